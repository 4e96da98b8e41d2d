// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>SwiGLU: out = silu(gate) * up, element-wise f32. Shader <c>swiglu</c>.</summary>
public sealed class SwiGluKernel : IDisposable
{
    private const uint WorkgroupSize = 256;
    private readonly ComputeKernel _kernel;

    private readonly record struct Push(uint N);

    public SwiGluKernel(VulkanDevice device) =>
        _kernel = new ComputeKernel(device, "swiglu", bindingCount: 3, pushConstantBytes: 4, [WorkgroupSize]);

    /// <param name="gate">[nTokens, n] f32</param>
    /// <param name="up">[nTokens, n] f32</param>
    /// <param name="output">[nTokens, n] f32 (may be gate)</param>
    public KernelBinding Bind(BufferRange gate, BufferRange up, BufferRange output) => _kernel.Bind(gate, up, output);

    /// <summary>Records the op over nTokens * n elements.</summary>
    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int n)
    {
        ArgumentNullException.ThrowIfNull(seq);
        long total = (long)nTokens * n;
        (uint gx, uint gy) = KernelMath.Groups1D(total, WorkgroupSize);
        seq.Dispatch(binding, new Push((uint)total), gx, gy);
    }

    public void Dispose() => _kernel.Dispose();
}
