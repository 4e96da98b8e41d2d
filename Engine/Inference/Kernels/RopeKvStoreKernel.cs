using System.Runtime.InteropServices;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// RoPE of the new tokens' q and k heads and the append of their k and v to one layer's caches, in one dispatch
/// (Shaders/rope_kv_store.comp). Rows of the QKV buffer are [q heads | k heads | v]; token t has position pos0 + t,
/// pos0 read from the step buffer. q is rotated in place; k (rotated) and v go to <c>cache[pos0 + t]</c>, converted to
/// the caches' element type.
/// </summary>
public sealed class RopeKvStoreKernel : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Push(uint NHeads, uint NKvHeads, uint TokenStride, float FreqBase, uint Neox);   // the head size is a spec constant, the token the workgroup's y

    private const uint WorkgroupSize = 64;
    private readonly ComputeKernel _kernel;

    /// <summary>The head size the kernel is specialised for.</summary>
    public int HeadDim { get; }

    public RopeKvStoreKernel(VulkanDevice device, bool f16Cache, int headDim)
    {
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"headDim must be even and positive, got {headDim}");
        HeadDim = headDim;
        _kernel = new ComputeKernel(device, "rope_kv_store", bindingCount: 4, pushConstantBytes: Marshal.SizeOf<Push>(),
            [WorkgroupSize, f16Cache ? 1u : 0u, (uint)headDim]);
    }

    /// <param name="qkv">[nTokens, tokenStride] f32: q heads, k heads, v; q is rotated in place.</param>
    /// <param name="kCache">[ctx, nKvHeads * headDim] f32 or f16.</param>
    /// <param name="vCache">[ctx, nKvHeads * headDim] f32 or f16.</param>
    /// <param name="step">the step buffer (<see cref="Activations.Step"/>): { uint pos0 }.</param>
    public KernelBinding Bind(BufferRange qkv, BufferRange kCache, BufferRange vCache, BufferRange step) => _kernel.Bind(qkv, kCache, vCache, step);

    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int nHeads, int nKvHeads, int headDim, int tokenStride, float freqBase, RopeLayout layout)
    {
        ArgumentNullException.ThrowIfNull(seq);
        if (headDim != HeadDim)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"this kernel is specialised for headDim {HeadDim}, not {headDim}");
        if (nTokens <= 0 || nTokens > KernelMath.MaxGroupsPerDim)
            throw new ArgumentOutOfRangeException(nameof(nTokens), $"one dispatch takes 1 to {KernelMath.MaxGroupsPerDim} tokens (one workgroup row each), got {nTokens}");
        long itemsPerToken = (long)(nHeads + 2 * nKvHeads) * headDim / 2;
        uint groupsPerToken = (uint)((itemsPerToken + WorkgroupSize - 1) / WorkgroupSize);
        seq.Dispatch(binding, new Push((uint)nHeads, (uint)nKvHeads, (uint)tokenStride, freqBase, (uint)layout), groupsPerToken, (uint)nTokens);
    }

    public void Dispose() => _kernel.Dispose();
}
