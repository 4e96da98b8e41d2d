// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>Residual add, in place: <c>y[i] += x[i]</c> (f32). Shader <c>add.comp</c>.</summary>
public sealed class AddKernel : IDisposable
{
    private const uint WorkgroupSize = 256;
    private readonly ComputeKernel _kernel;

    private readonly record struct Push(uint N);

    public AddKernel(VulkanDevice device) =>
        _kernel = new ComputeKernel(device, "add", bindingCount: 2, pushConstantBytes: 4, [WorkgroupSize]);

    /// <param name="y">[n] f32, read and written (for [nTokens, dim] use n = nTokens * dim)</param>
    /// <param name="x">[n] f32</param>
    public KernelBinding Bind(BufferRange y, BufferRange x) => _kernel.Bind(y, x);

    /// <summary>Records <c>y[i] += x[i]</c> for i &lt; <paramref name="n"/>.</summary>
    public void Record(CommandSequence seq, KernelBinding binding, long n)
    {
        ArgumentNullException.ThrowIfNull(seq);
        (uint gx, uint gy) = KernelMath.Groups1D(n, WorkgroupSize);
        seq.Dispatch(binding, new Push((uint)n), gx, gy);
    }

    public void Dispose() => _kernel.Dispose();
}
