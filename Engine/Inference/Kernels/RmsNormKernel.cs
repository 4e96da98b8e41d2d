// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>RMSNorm per row: y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w. Shader <c>rmsnorm</c>; one workgroup per token.</summary>
public sealed class RmsNormKernel : IDisposable
{
    private const uint WorkgroupSize = 256;
    private readonly ComputeKernel _kernel;

    private readonly record struct Push(uint N, float Eps);

    public RmsNormKernel(VulkanDevice device) =>
        _kernel = new ComputeKernel(device, "rmsnorm", bindingCount: 3, pushConstantBytes: 8, [WorkgroupSize]);

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
