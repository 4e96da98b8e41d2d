// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
namespace Tipo.Inference.Kernels;

/// <summary>Dispatch-size helpers shared by the kernel wrappers.</summary>
public static class KernelMath
{
    /// <summary>Groups per dimension that every Vulkan device supports (the spec minimum).</summary>
    public const uint MaxGroupsPerDim = 65535;

    public static uint CeilDiv(long n, long d) => (uint)((n + d - 1) / d);

    /// <summary>Workgroup grid for <paramref name="n"/> items, <paramref name="workgroupSize"/> per group, spread over x and y
    /// so x stays &lt;= 65535 (shaders use <c>linear_index()</c>).</summary>
    public static (uint X, uint Y) Groups1D(long n, uint workgroupSize)
    {
        long groups = (n + workgroupSize - 1) / workgroupSize;
        if (groups <= MaxGroupsPerDim)
            return ((uint)Math.Max(groups, 1), 1);
        uint y = (uint)((groups + MaxGroupsPerDim - 1) / MaxGroupsPerDim);
        uint x = (uint)((groups + y - 1) / y);
        return (x, y);
    }
}
