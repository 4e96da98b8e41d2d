// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// Causal grouped-query attention of queries over a KV cache. Shader <c>attention</c>; one workgroup per (head, token),
/// online softmax over key tiles. Query t (position pos0 + t, pos0 read from the step buffer) sees cache rows 0..pos0+t. With nTokens = 1 this is decode.
/// </summary>
public sealed class AttentionKernel : IDisposable
{
    private const uint WorkgroupSize = 64;
    private readonly ComputeKernel _kernel;

    private readonly record struct Push(uint NTokens, uint NHeads, uint NKvHeads, uint HeadDim, uint QStride, float Scale);

    /// <summary>Element type of the K/V caches.</summary>
    public MatrixType CacheType { get; }

    public AttentionKernel(VulkanDevice device, MatrixType cacheType = MatrixType.F32)
    {
        CacheType = cacheType;
        _kernel = new ComputeKernel(device, "attention", bindingCount: 5, pushConstantBytes: 24, [WorkgroupSize, cacheType == MatrixType.F16 ? 1u : 0u]);
    }

    /// <param name="q">[nTokens, qStride] f32, the heads at the start of each row</param>
    /// <param name="kCache">[ctx, nKvHeads * headDim] f32 (or f16 with CacheType F16)</param>
    /// <param name="vCache">[ctx, nKvHeads * headDim] f32 (or f16)</param>
    /// <param name="output">[nTokens, nHeads * headDim] f32</param>
    /// <param name="step">the step buffer: { uint pos0 }</param>
    public KernelBinding Bind(BufferRange q, BufferRange kCache, BufferRange vCache, BufferRange output, BufferRange step) => _kernel.Bind(q, kCache, vCache, output, step);

    /// <param name="scale">score scale; 0 means 1/sqrt(headDim)</param>
    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int nHeads, int nKvHeads, int headDim, int qStride, float scale = 0)
    {
        ArgumentNullException.ThrowIfNull(seq);
        if (nKvHeads <= 0 || nHeads % nKvHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(nKvHeads), $"nHeads ({nHeads}) must be a multiple of nKvHeads ({nKvHeads})");
        if (headDim <= 0 || headDim > 256 || headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), "headDim must be even and at most 256");
        if (scale == 0)
            scale = 1f / MathF.Sqrt(headDim);
        seq.Dispatch(binding, new Push((uint)nTokens, (uint)nHeads, (uint)nKvHeads, (uint)headDim, (uint)qStride, scale), (uint)nHeads, (uint)nTokens);
    }

    public void Dispose() => _kernel.Dispose();
}
