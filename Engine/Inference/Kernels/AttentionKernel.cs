// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// Causal grouped-query attention of queries over a KV cache. Shader <c>attention</c>: one workgroup per (head, token),
/// online softmax over key tiles; <c>attention_keys</c> (CPU devices, and GPUs of a fixed subgroup size,
/// <see cref="UseOneSubgroup"/>): one subgroup per (head, token), or per (head, <see cref="PrefillQueries"/> tokens) in
/// prefill, its lanes taking turns over the keys. Query t of a dispatch is token firstQuery + t (q row firstQuery + t,
/// position pos0 + firstQuery + t, pos0 read from the step buffer): it sees cache rows 0..pos0+firstQuery+t and writes
/// output row t. With nTokens = 1 this is decode; decode and prefill give a token the same bits.
/// </summary>
public sealed class AttentionKernel : IDisposable
{
    private readonly ComputeKernel _kernel;
    private readonly ComputeKernel? _prefillKernel;   // one-subgroup kernel, PrefillQueries tokens per workgroup

    /// <summary>Query tokens per workgroup of the one-subgroup kernel in prefill: they share each K and V fetch
    /// (0 for the portable kernel). Each lane holds every query's q and output in registers (spilled), so wide heads
    /// get fewer: at most <see cref="MaxPrefillStateTexels"/> cache texels of state per lane.</summary>
    public uint PrefillQueries { get; }

    /// <summary>Cap on queries x cache texels per head of the prefill kernel (tipo-200m, f16 cache: 4 queries).
    /// Measured on lavapipe (tipo-200m, pp512, bench --profile): attention 783 ms with 4 queries, 763-932 with 8; the
    /// kernel it replaced (lanes across the head dimension, a subgroupAdd per key) took 1597 ms.</summary>
    public const uint MaxPrefillStateTexels = 32;

    /// <summary>Lanes per (head, token).</summary>
    public uint WorkgroupSize { get; }
    /// <summary>True for the one-subgroup kernel without barriers (attention_keys.comp, CPU devices); false for the
    /// shared-memory tile kernel (attention.comp, any device).</summary>
    public bool OneSubgroup { get; }
    /// <summary>The head size the one-subgroup kernel is specialised for (0 for the portable kernel: any).</summary>
    public int HeadDim { get; }

    private readonly record struct Push(uint NTokens, uint NHeads, uint NKvHeads, uint HeadDim, uint QStride, float Scale, uint FirstQuery);

    /// <summary>Element type of the K/V caches.</summary>
    public MatrixType CacheType { get; }

    /// <summary>
    /// Whether the kernel set <paramref name="kernels"/> runs the one-subgroup kernel on <paramref name="device"/>: the CPU
    /// kernels always; the GPU kernels on a GPU whose every shader runs in subgroups of the reported size
    /// (<see cref="DeviceInfo.FixedSubgroupSize"/>), since the kernel needs its workgroup to be one subgroup. On an H200
    /// (bench, same run) it decoded tipo-500m at 837 tok/s against 739 with the tile kernel, tipo-200m at 1041 against
    /// 857, and prefilled 512 tokens of tipo-500m at 6549 tok/s against 5908. On a CPU device the GPU kernel set keeps the
    /// portable kernel, so that path stays tested on lavapipe.
    /// </summary>
    public static bool UseOneSubgroup(VulkanDevice device, KernelSet kernels)
    {
        ArgumentNullException.ThrowIfNull(device);
        return KernelSets.UseCpuKernels(device, kernels) || (device.Info.Kind != DeviceKind.Cpu && device.Info.FixedSubgroupSize);
    }

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
            ? [BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer]
            : [BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer];
        HeadDim = headDim;
        uint headTexels = OneSubgroup ? (uint)(headDim / texelElems) : 0;
        uint kvF16 = cacheType == MatrixType.F16 ? 1u : 0u;
        _kernel = new ComputeKernel(device, OneSubgroup ? "attention_keys" : "attention", kinds, pushConstantBytes: 28,
            OneSubgroup ? [WorkgroupSize, kvF16, headTexels, 1u] : [WorkgroupSize, kvF16]);
        if (OneSubgroup)
        {
            PrefillQueries = Math.Clamp(MaxPrefillStateTexels / headTexels, 1u, 4u);
            _prefillKernel = new ComputeKernel(device, "attention_keys", kinds, pushConstantBytes: 28, [WorkgroupSize, kvF16, headTexels, PrefillQueries]);
        }
    }

    /// <param name="q">[firstQuery + nTokens, qStride] f32, the heads at the start of each row (the one-subgroup kernel reads it as
    /// 16-byte texels: its offset aligned to the device's texel-buffer offset alignment)</param>
    /// <param name="kCache">[ctx, nKvHeads * headDim] f32 (or f16 with CacheType F16)</param>
    /// <param name="vCache">[ctx, nKvHeads * headDim] f32 (or f16)</param>
    /// <param name="output">[nTokens, nHeads * headDim] f32</param>
    /// <param name="step">the step buffer: { uint pos0 }</param>
    public KernelBinding Bind(BufferRange q, BufferRange kCache, BufferRange vCache, BufferRange output, BufferRange step) => _kernel.Bind(q, kCache, vCache, output, step);

    /// <param name="scale">score scale; 0 means 1/sqrt(headDim)</param>
    /// <param name="firstQuery">the first query's token (row of q, offset from pos0); its output goes to row 0</param>
    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int nHeads, int nKvHeads, int headDim, int qStride, float scale = 0,
        int firstQuery = 0)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegative(firstQuery);
        if (nKvHeads <= 0 || nHeads % nKvHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(nKvHeads), $"nHeads ({nHeads}) must be a multiple of nKvHeads ({nKvHeads})");
        if (headDim <= 0 || headDim > 256 || headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), "headDim must be even and at most 256");
        if (OneSubgroup && headDim != HeadDim)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"this one-subgroup attention kernel is specialised for headDim {HeadDim}, not {headDim}");
        if (OneSubgroup && qStride % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(qStride), $"the one-subgroup attention kernel reads q as 4-float texels: qStride must be a multiple of 4, got {qStride}");
        if (scale == 0)
            scale = 1f / MathF.Sqrt(headDim);
        var push = new Push((uint)nTokens, (uint)nHeads, (uint)nKvHeads, (uint)headDim, (uint)qStride, scale, (uint)firstQuery);
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
