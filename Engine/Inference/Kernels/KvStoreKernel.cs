using System.Runtime.InteropServices;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// Appends the K or V rows of new tokens to one layer's cache, converting to the cache's element type
/// (Shaders/kv_store.comp): <c>cache[pos0 + t, :] = src[t, :]</c>.
/// </summary>
public sealed class KvStoreKernel : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Push(uint RowSize, uint NTokens, uint Pos0);

    private const uint WorkgroupSize = 64;
    private readonly ComputeKernel _kernel;

    public KvStoreKernel(VulkanDevice device, bool f16Cache) =>
        _kernel = new ComputeKernel(device, "kv_store", bindingCount: 2, pushConstantBytes: Marshal.SizeOf<Push>(),
            [WorkgroupSize, f16Cache ? 1u : 0u]);

    /// <param name="source">[nTokens, rowSize] f32.</param>
    /// <param name="cache">[ctx, rowSize] f32 or f16.</param>
    public KernelBinding Bind(BufferRange source, BufferRange cache) => _kernel.Bind(source, cache);

    public void Record(CommandSequence seq, KernelBinding binding, int rowSize, int nTokens, int pos0)
    {
        uint pairs = (uint)(rowSize / 2 * nTokens);
        seq.Dispatch(binding, new Push((uint)rowSize, (uint)nTokens, (uint)pos0), (pairs + WorkgroupSize - 1) / WorkgroupSize);
    }

    public void Dispose() => _kernel.Dispose();
}
