using System.Runtime.InteropServices;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// Appends the K and V rows of new tokens to one layer's caches, converting to the caches' element type
/// (Shaders/kv_store.comp): <c>kCache[pos0 + t, :] = src[t, kOffset..]</c>, <c>vCache[pos0 + t, :] = src[t, kOffset + rowSize..]</c>,
/// pos0 read from the step buffer.
/// </summary>
public sealed class KvStoreKernel : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Push(uint RowSize, uint NTokens, uint SrcStride, uint KOffset);

    private const uint WorkgroupSize = 64;
    private readonly ComputeKernel _kernel;

    public KvStoreKernel(VulkanDevice device, bool f16Cache) =>
        _kernel = new ComputeKernel(device, "kv_store", bindingCount: 4, pushConstantBytes: Marshal.SizeOf<Push>(),
            [WorkgroupSize, f16Cache ? 1u : 0u]);

    /// <param name="source">[nTokens, srcStride] f32: K at kOffset, V right after it.</param>
    /// <param name="kCache">[ctx, rowSize] f32 or f16.</param>
    /// <param name="vCache">[ctx, rowSize] f32 or f16.</param>
    /// <param name="step">the step buffer: { uint pos0 }.</param>
    public KernelBinding Bind(BufferRange source, BufferRange kCache, BufferRange vCache, BufferRange step) => _kernel.Bind(source, kCache, vCache, step);

    public void Record(CommandSequence seq, KernelBinding binding, int rowSize, int nTokens, int srcStride, int kOffset)
    {
        ArgumentNullException.ThrowIfNull(seq);
        if (rowSize % 2 != 0 || srcStride % 2 != 0 || kOffset % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(rowSize), "rowSize, srcStride and kOffset must be even");
        uint pairs = (uint)(rowSize / 2 * nTokens);
        seq.Dispatch(binding, new Push((uint)rowSize, (uint)nTokens, (uint)srcStride, (uint)kOffset), (pairs + WorkgroupSize - 1) / WorkgroupSize);
    }

    public void Dispose() => _kernel.Dispose();
}
