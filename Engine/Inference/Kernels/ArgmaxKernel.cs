using System.Runtime.InteropServices;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>Greedy choice on the GPU (Shaders/argmax.comp): the index of the largest logit, lowest on ties.</summary>
public sealed class ArgmaxKernel : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Push(uint N, uint RowOffset);

    private const uint WorkgroupSize = 64;
    private readonly ComputeKernel _kernel;

    public ArgmaxKernel(VulkanDevice device) =>
        _kernel = new ComputeKernel(device, "argmax", bindingCount: 2, pushConstantBytes: Marshal.SizeOf<Push>(), [WorkgroupSize]);

    /// <param name="logits">[rows, n] f32.</param>
    /// <param name="result">{ uint index, float value }.</param>
    public KernelBinding Bind(BufferRange logits, BufferRange result) => _kernel.Bind(logits, result);

    public void Record(CommandSequence seq, KernelBinding binding, int n, int rowOffset) =>
        seq.Dispatch(binding, new Push((uint)n, (uint)rowOffset), 1);

    public void Dispose() => _kernel.Dispose();
}
