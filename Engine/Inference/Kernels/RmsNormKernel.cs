// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>RMSNorm per row: y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w. Shader <c>rmsnorm</c>; one workgroup per token.</summary>
public sealed class RmsNormKernel : IDisposable
{
    private readonly ComputeKernel _kernel;

    /// <summary>Lanes per row: one subgroup on CPU devices (a reduction without barrier()), 256 elsewhere.</summary>
    public uint WorkgroupSize { get; }

    private readonly record struct Push(uint N, float Eps);

    public RmsNormKernel(VulkanDevice device, bool? oneSubgroup = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        bool subgroup = (oneSubgroup ?? device.Info.Kind == DeviceKind.Cpu) && device.Info.SubgroupArithmetic &&
                        device.Info.SubgroupSize is >= 4 and <= 256 && (device.Info.SubgroupSize & (device.Info.SubgroupSize - 1)) == 0;
        WorkgroupSize = subgroup ? device.Info.SubgroupSize : 256;
        _kernel = new ComputeKernel(device, "rmsnorm", bindingCount: 3, pushConstantBytes: 8, [WorkgroupSize, subgroup ? 1u : 0u]);
    }

    /// <param name="x">[nTokens, n] f32</param>
    /// <param name="w">[n] f32</param>
    /// <param name="y">[nTokens, n] f32 (may be x)</param>
    public KernelBinding Bind(BufferRange x, BufferRange w, BufferRange y) => _kernel.Bind(x, w, y);

    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int n, float eps)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nTokens);
        seq.Dispatch(binding, new Push((uint)n, eps), (uint)nTokens);
    }

    public void Dispose() => _kernel.Dispose();
}
