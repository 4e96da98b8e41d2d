// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// Causal grouped-query attention of queries over a KV cache. Shader <c>attention</c>: one workgroup per (head, token),
/// online softmax over key tiles; on CPU devices <c>attention_subgroup</c>: one subgroup per (head, token), or per
/// (head, <see cref="PrefillQueries"/> tokens) in prefill. Query t (position pos0 + t, pos0 read from the step buffer) sees cache rows 0..pos0+t. With nTokens = 1 this is decode.
/// </summary>
public sealed class AttentionKernel : IDisposable
{
    private readonly ComputeKernel _kernel;
    private readonly ComputeKernel? _prefillKernel;   // one-subgroup kernel, PrefillQueries tokens per workgroup

    /// <summary>Query tokens per workgroup of the one-subgroup kernel in prefill: they share each K and V fetch.
    /// Measured on lavapipe (tipo-200m, pp512, bench --profile): attention 1667 ms with 4, 1596 with 8, 2096 with 1.</summary>
    public const uint PrefillQueries = 4;

    /// <summary>Lanes per (head, token).</summary>
    public uint WorkgroupSize { get; }
    /// <summary>True for the one-subgroup kernel without barriers (attention_subgroup.comp, CPU devices); false for the
    /// shared-memory tile kernel (attention.comp, any device).</summary>
    public bool OneSubgroup { get; }
    /// <summary>The head size the one-subgroup kernel is specialised for (0 for the portable kernel: any).</summary>
    public int HeadDim { get; }

    private readonly record struct Push(uint NTokens, uint NHeads, uint NKvHeads, uint HeadDim, uint QStride, float Scale);

    /// <summary>Element type of the K/V caches.</summary>
    public MatrixType CacheType { get; }

    /// <param name="oneSubgroup">Null picks the one-subgroup kernel on CPU devices with subgroup arithmetic.</param>
    /// <param name="headDim">The head size it will run (0: unknown). The one-subgroup kernel reads whole 16-byte texels of
    /// a head, so it needs headDim % 8 == 0 (f16 cache) or % 4 == 0 (f32); other sizes get the portable kernel.</param>
    public AttentionKernel(VulkanDevice device, MatrixType cacheType = MatrixType.F32, bool? oneSubgroup = null, int headDim = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        CacheType = cacheType;
        int texelElems = cacheType == MatrixType.F16 ? 8 : 4;
        // On llvmpipe a workgroup of the reported subgroup size is one subgroup (its SIMD width is fixed); GPUs may
        // compile narrower subgroups than they report, so they keep the portable kernel.
        OneSubgroup = (oneSubgroup ?? KernelSets.UseCpuKernels(device)) && device.Info.SubgroupArithmetic &&
                      device.Info.SubgroupSize is >= 4 and <= 128 && headDim > 0 && headDim % texelElems == 0;
        WorkgroupSize = OneSubgroup ? device.Info.SubgroupSize : 64;
        BindingKind[] kinds = OneSubgroup
            ? [BindingKind.StorageBuffer, BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer]
            : [BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer];
        HeadDim = headDim;
        uint texelsPerLane = OneSubgroup ? (uint)((headDim / texelElems + WorkgroupSize - 1) / WorkgroupSize) : 0;
        uint kvF16 = cacheType == MatrixType.F16 ? 1u : 0u;
        _kernel = new ComputeKernel(device, OneSubgroup ? "attention_subgroup" : "attention", kinds, pushConstantBytes: 24,
            OneSubgroup ? [WorkgroupSize, kvF16, texelsPerLane, 1u] : [WorkgroupSize, kvF16]);
        if (OneSubgroup)
            _prefillKernel = new ComputeKernel(device, "attention_subgroup", kinds, pushConstantBytes: 24, [WorkgroupSize, kvF16, texelsPerLane, PrefillQueries]);
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
        if (OneSubgroup && headDim != HeadDim)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"this one-subgroup attention kernel is specialised for headDim {HeadDim}, not {headDim}");
        if (scale == 0)
            scale = 1f / MathF.Sqrt(headDim);
        var push = new Push((uint)nTokens, (uint)nHeads, (uint)nKvHeads, (uint)headDim, (uint)qStride, scale);
        if (_prefillKernel != null && nTokens > 1)
            seq.DispatchWith(_prefillKernel, binding, push, (uint)nHeads, (uint)((nTokens + PrefillQueries - 1) / PrefillQueries));
        else
            seq.Dispatch(binding, push, (uint)nHeads, (uint)nTokens);
    }

    public void Dispose()
    {
        _kernel.Dispose();
        _prefillKernel?.Dispose();
    }
}
