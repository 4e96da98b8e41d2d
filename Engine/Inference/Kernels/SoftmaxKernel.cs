// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>Numerically stable softmax of each row, in place. Shader <c>softmax</c>; one workgroup per row.</summary>
public sealed class SoftmaxKernel : IDisposable
{
    private const uint WorkgroupSize = 256;
    private readonly ComputeKernel _kernel;

    private readonly record struct Push(uint N);

    public SoftmaxKernel(VulkanDevice device) =>
        _kernel = new ComputeKernel(device, "softmax", bindingCount: 1, pushConstantBytes: 4, [WorkgroupSize]);

    /// <param name="x">[nRows, n] f32, replaced by its row-wise softmax</param>
    public KernelBinding Bind(BufferRange x) => _kernel.Bind(x);

    public void Record(CommandSequence seq, KernelBinding binding, int nRows, int n)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nRows);
        seq.Dispatch(binding, new Push((uint)n), (uint)nRows);
    }

    public void Dispose() => _kernel.Dispose();
}
