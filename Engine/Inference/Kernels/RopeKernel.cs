// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>RoPE in place on the first nHeads heads of each row of [nTokens, tokenStride] f32; token t has position
/// step.pos0 + t (read from the step buffer on the GPU), theta_i = pos * base^(-2i/headDim). Shader <c>rope</c>.</summary>
public sealed class RopeKernel : IDisposable
{
    private const uint WorkgroupSize = 64;
    private readonly ComputeKernel _kernel;

    private readonly record struct Push(uint NTokens, uint NHeads, uint HeadDim, uint TokenStride, float FreqBase, uint Neox);

    public RopeKernel(VulkanDevice device) =>
        _kernel = new ComputeKernel(device, "rope", bindingCount: 2, pushConstantBytes: 24, [WorkgroupSize]);

    /// <param name="x">[nTokens, tokenStride] f32, heads rotated in place</param>
    /// <param name="step">the step buffer (<see cref="Activations.Step"/>): { uint pos0 }</param>
    public KernelBinding Bind(BufferRange x, BufferRange step) => _kernel.Bind(x, step);

    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int nHeads, int headDim, int tokenStride, float freqBase, RopeLayout layout)
    {
        ArgumentNullException.ThrowIfNull(seq);
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), "headDim must be even");
        (uint gx, uint gy) = KernelMath.Groups1D((long)nTokens * nHeads * headDim / 2, WorkgroupSize);
        seq.Dispatch(binding, new Push((uint)nTokens, (uint)nHeads, (uint)headDim, (uint)tokenStride, freqBase, (uint)layout), gx, gy);
    }

    public void Dispose() => _kernel.Dispose();
}
