// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using System.Numerics;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>How the attention kernel divides a head's keys between lanes.</summary>
public enum AttentionLayout
{
    /// <summary>attention.comp: one workgroup per (head, token), keys in tiles across its lanes with shared-memory
    /// reductions and barriers; any device, any even head size up to 256. The fallback.</summary>
    Tiles,
    /// <summary>attention_keys.comp: one subgroup per (head, token), or per (head, <see cref="AttentionKernel.PrefillQueries"/>
    /// tokens) in prefill, each lane walking its own keys through texel buffers, no barrier; for CPU devices (llvmpipe
    /// runs cross-lane operations as scalar loops) and GPUs of a fixed subgroup size without shuffles.</summary>
    KeysPerLane,
    /// <summary>attention_groups.comp: one workgroup per (head, token), its lanes in groups of one 16-byte texel of the
    /// head each, a group per key, many keys at a time, storage-buffer loads; for GPUs.</summary>
    KeyGroups,
}

/// <summary>
/// Causal grouped-query attention of queries over a KV cache, in one of three layouts (<see cref="AttentionLayout"/>),
/// picked per device by <see cref="LayoutFor"/>. Query t of a dispatch is token firstQuery + t (q row firstQuery + t,
/// position pos0 + firstQuery + t, pos0 read from the step buffer): it sees cache rows 0..pos0+firstQuery+t and writes
/// output row t. With nTokens = 1 this is decode; in every layout decode and prefill give a token the same bits.
/// </summary>
public sealed class AttentionKernel : IDisposable
{
    private readonly ComputeKernel _kernel;
    private readonly ComputeKernel? _prefillKernel;   // one-subgroup kernel, PrefillQueries tokens per workgroup

    /// <summary>Query tokens per workgroup of the one-subgroup kernel in prefill: they share each K and V fetch
    /// (0 for the other layouts). Each lane holds every query's q and output in registers (spilled), so wide heads
    /// get fewer (<see cref="PrefillQueriesFor"/>).</summary>
    public uint PrefillQueries { get; }

    /// <summary>Keys each lane of the one-subgroup kernel scores per update of its online softmax (its KEYS; 1 for the
    /// other layouts): one rescaling of the state and one exp fewer per key for each key past the first.</summary>
    public uint KeysPerUpdate { get; }

    /// <summary>The one-subgroup kernel's <see cref="KeysPerUpdate"/> on <paramref name="device"/> (decode_layer_cpu.glsl
    /// repeats it, for the same bits): 2 on CPU devices, 1 elsewhere (not measured on a GPU). Measured on lavapipe,
    /// tipo-200m pp512 attention in one process (bench --profile's dispatches, 4 rounds, medians; Mesa 22.3.6): 4 queries
    /// a workgroup, 1 key 392 ms, 2 keys 375 (1.045x); 8 queries 1 key 1.087x-1.132x, 2 keys 1.246x-1.266x, 4 keys 1.244x;
    /// 16 queries 1 key 1.130x, 2 keys 1.255x. 8 queries 2 keys on Mesa 25.0.7 1.209x, on Mesa 23.2.1 0.957x (4 queries
    /// 2 keys there 1.015x).</summary>
    public static uint KeysPerUpdateOn(VulkanDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.Info.Kind == DeviceKind.Cpu ? 2u : 1u;
    }

    /// <summary>The one-subgroup kernel's <see cref="PrefillQueries"/> on <paramref name="device"/> for heads of
    /// <paramref name="headTexels"/> cache texels: on CPU devices up to 64 texels of state and 8 queries (tipo-200m, f16
    /// cache: 8; measured with <see cref="KeysPerUpdateOn"/>, above), elsewhere up to 32 and 4 (as before those
    /// measurements; not measured on a GPU). The kernel this one replaced (lanes across the head dimension, a subgroupAdd
    /// per key) took 1597 ms of a tipo-200m pp512 pass on lavapipe.</summary>
    public static uint PrefillQueriesFor(VulkanDevice device, uint headTexels)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfZero(headTexels);
        bool cpu = device.Info.Kind == DeviceKind.Cpu;
        return Math.Clamp((cpu ? 64u : 32u) / headTexels, 1u, cpu ? 8u : 4u);
    }

    /// <summary>Lanes of the key-groups kernel's workgroups (fewer where the device's shared memory or workgroup size
    /// limit says so, <see cref="KeyGroupsWorkgroupSize"/>). Measured on an H200, tipo-500m, tg128 at depth 512 (bench,
    /// one run, noisy at +-10 %): 256 lanes 910-1075 tok/s in two tests, 128 lanes 777, 512 lanes 1073, 1024 lanes 1007;
    /// pp512 at depth 512 10805, 10767, 10303 and 9513 tok/s.</summary>
    public const uint KeyGroupsLanes = 256;
    /// <summary>Keys in flight per lane group of the key-groups kernel (same run: 2 keys 910-1075 tok/s, 1 key 897,
    /// 4 keys 943).</summary>
    public const uint KeyGroupsUnroll = 2;

    /// <summary>Lanes per (head, token).</summary>
    public uint WorkgroupSize { get; }
    /// <summary>The layout this kernel runs (the one asked for, or <see cref="AttentionLayout.Tiles"/> where that did not fit).</summary>
    public AttentionLayout Layout { get; }
    /// <summary>True for the one-subgroup kernel (<see cref="AttentionLayout.KeysPerLane"/>).</summary>
    public bool OneSubgroup => Layout == AttentionLayout.KeysPerLane;
    /// <summary>The head size the kernel is specialised for (0 for the portable kernel: any).</summary>
    public int HeadDim { get; }

    private readonly record struct Push(uint NTokens, uint NHeads, uint NKvHeads, uint HeadDim, uint QStride, float Scale, uint FirstQuery);

    /// <summary>The most cache rows (keys) one query can attend to through this kernel on its device: unlimited
    /// (<see cref="int.MaxValue"/>) on GPUs; on CPU devices as many as llvmpipe's <see cref="LlvmpipeLoopIterations"/>
    /// allow: <see cref="TilesMaxKeysOnLlvmpipe"/> for the tiles kernel, and for the one-subgroup kernel, whose key loop
    /// takes one iteration per <see cref="WorkgroupSize"/> keys (its inner loops unrolled), that many keys per iteration
    /// with 16 to spare (8 lanes: 524152 keys; measured right at 300000 keys and wrong at 600000).</summary>
    public int MaxKeys { get; }

    /// <summary>Iterations of all its loops that llvmpipe lets one shader invocation run.</summary>
    public const int LlvmpipeLoopIterations = 65535;

    /// <summary>
    /// <see cref="MaxKeys"/> of the tiles kernel (64 lanes) on llvmpipe for heads of <paramref name="headDim"/> (at most
    /// 256). Mesa's llvmpipe ends a shader invocation's loops after 65535 iterations in all, silently (measured on 22.3:
    /// a loop of 100000 ran 65535 times, a second loop after it once); the other kernels stay far below that, but the
    /// tiles kernel's loops run head size + head size rounded up to 64 + ~26-29 iterations per tile of 64 keys. Measured
    /// (one query, lavapipe 22.3): right up to 34930 keys for heads of 30, 27169 for 64, 14845 for 128, 7747 for 256,
    /// wrong a tile later. This counts whole tiles at head size + rounded head size + 32 per tile, and 16 outside them:
    /// 33280, 26176, 14528 and 7680 keys.
    /// </summary>
    public static int TilesMaxKeysOnLlvmpipe(int headDim)
    {
        const int lanes = 64;
        int hd = headDim > 0 ? Math.Min(headDim, 256) : 256;
        int perTile = hd + (hd + lanes - 1) / lanes * lanes + 32;
        return (LlvmpipeLoopIterations - 16) / perTile * lanes;
    }

    /// <summary>Element type of the K/V caches.</summary>
    public MatrixType CacheType { get; }

    /// <summary>
    /// The layout kernel set <paramref name="kernels"/> runs on <paramref name="device"/> for heads of
    /// <paramref name="headDim"/> in a cache of <paramref name="cacheType"/>: the CPU kernels one subgroup per head
    /// (<see cref="AttentionLayout.KeysPerLane"/>); the GPU kernels key groups where they fit
    /// (<see cref="KeyGroupsFit"/>), else one subgroup on a GPU whose every shader runs in subgroups of the reported size
    /// (<see cref="DeviceInfo.FixedSubgroupSize"/>), else tiles. On an H200 the one-subgroup kernel had decoded tipo-500m
    /// at 837 tok/s against 739 with tiles; key groups against one subgroup, alternating in one run (README, Speed):
    /// tg128 1161-1202 tok/s against 1024-1036, at depth 512 996-1040 against 745-777, pp512 10819-10987 against
    /// 9499-9734. Lavapipe runs the key-groups kernel with the GPU kernel set, so CI tests that path on whole models.
    /// </summary>
    public static AttentionLayout LayoutFor(VulkanDevice device, KernelSet kernels, MatrixType cacheType, int headDim)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (KernelSets.UseCpuKernels(device, kernels))
            return AttentionLayout.KeysPerLane;
        if (KeyGroupsFit(device, cacheType, headDim))
            return AttentionLayout.KeyGroups;
        return device.Info.Kind != DeviceKind.Cpu && device.Info.FixedSubgroupSize ? AttentionLayout.KeysPerLane : AttentionLayout.Tiles;
    }

    /// <summary>Whether the key-groups kernel can run heads of <paramref name="headDim"/> on <paramref name="device"/>:
    /// whole 16-byte texels per head, a power of two of them no more than the smallest subgroup (a group's lanes
    /// shuffle within one subgroup), subgroup shuffles, and a workgroup of at least one group.</summary>
    public static bool KeyGroupsFit(VulkanDevice device, MatrixType cacheType, int headDim)
    {
        ArgumentNullException.ThrowIfNull(device);
        int texelElems = cacheType == MatrixType.F16 ? 8 : 4;
        if (!device.Info.SubgroupShuffle || headDim <= 0 || headDim > 256 || headDim % texelElems != 0)
            return false;
        int headTexels = headDim / texelElems;
        return BitOperations.IsPow2(headTexels) && headTexels <= device.Info.SmallestSubgroupSize &&
               KeyGroupsWorkgroupSize(device, cacheType) >= Math.Max(headTexels, device.Info.MaxSubgroupSize);
    }

    /// <summary>Lanes of the key-groups kernel on <paramref name="device"/>: <see cref="KeyGroupsLanes"/>, halved until its
    /// shared memory (a float per lane and cache texel element, and two per group) and the workgroup fit the device.</summary>
    public static uint KeyGroupsWorkgroupSize(VulkanDevice device, MatrixType cacheType)
    {
        ArgumentNullException.ThrowIfNull(device);
        uint texelElems = cacheType == MatrixType.F16 ? 8u : 4u;
        uint wg = KeyGroupsLanes;
        while (wg > 1 && (wg > device.Info.MaxComputeWorkGroupInvocations || (wg * texelElems + 2 * wg) * 4 > device.Info.MaxComputeSharedMemorySize))
            wg /= 2;
        return wg;
    }

    /// <param name="layout">The layout to run; one that does not fit the device or head (<see cref="KeyGroupsFit"/>, and for
    /// the one-subgroup kernel subgroup arithmetic and whole texels per head) falls back to <see cref="AttentionLayout.Tiles"/>.</param>
    /// <param name="headDim">The head size it will run (0: unknown, the tiles kernel).</param>
    /// <param name="keysPerUpdate">the one-subgroup kernel's <see cref="KeysPerUpdate"/> (0: <see cref="KeysPerUpdateOn"/>, as
    /// the decode layer has it; tests run the other values).</param>
    public AttentionKernel(VulkanDevice device, MatrixType cacheType = MatrixType.F32, AttentionLayout layout = AttentionLayout.Tiles, int headDim = 0,
        uint keysPerUpdate = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        CacheType = cacheType;
        int texelElems = cacheType == MatrixType.F16 ? 8 : 4;
        uint kvF16 = cacheType == MatrixType.F16 ? 1u : 0u;
        bool fits = layout switch
        {
            // On llvmpipe a workgroup of the reported subgroup size is one subgroup (its SIMD width is fixed).
            AttentionLayout.KeysPerLane => device.Info.SubgroupArithmetic && device.Info.SubgroupSize is >= 4 and <= 128 &&
                                           headDim > 0 && headDim % texelElems == 0,
            AttentionLayout.KeyGroups => KeyGroupsFit(device, cacheType, headDim),
            _ => true,
        };
        Layout = fits ? layout : AttentionLayout.Tiles;
        HeadDim = Layout == AttentionLayout.Tiles ? 0 : headDim;
        MaxKeys = device.Info.Kind != DeviceKind.Cpu ? int.MaxValue : Layout switch
        {
            AttentionLayout.Tiles => TilesMaxKeysOnLlvmpipe(headDim),
            AttentionLayout.KeysPerLane => (int)Math.Min(int.MaxValue, (LlvmpipeLoopIterations - 16L) * device.Info.SubgroupSize),
            _ => int.MaxValue,
        };
        uint headTexels = (uint)(HeadDim / texelElems);
        switch (Layout)
        {
            case AttentionLayout.KeysPerLane:
                WorkgroupSize = device.Info.SubgroupSize;
                BindingKind[] texels = [BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer];
                KeysPerUpdate = keysPerUpdate != 0 ? keysPerUpdate : KeysPerUpdateOn(device);
                _kernel = new ComputeKernel(device, "attention_keys", texels, pushConstantBytes: 28, [WorkgroupSize, kvF16, headTexels, 1u, KeysPerUpdate]);
                PrefillQueries = PrefillQueriesFor(device, headTexels);
                _prefillKernel = new ComputeKernel(device, "attention_keys", texels, pushConstantBytes: 28, [WorkgroupSize, kvF16, headTexels, PrefillQueries, KeysPerUpdate]);
                break;
            case AttentionLayout.KeyGroups:
                KeysPerUpdate = 1;
                WorkgroupSize = KeyGroupsWorkgroupSize(device, cacheType);
                _kernel = new ComputeKernel(device, "attention_groups", bindingCount: 5, pushConstantBytes: 28, [WorkgroupSize, kvF16, headTexels, KeyGroupsUnroll]);
                break;
            default:
                KeysPerUpdate = 1;
                WorkgroupSize = 64;
                _kernel = new ComputeKernel(device, "attention", bindingCount: 5, pushConstantBytes: 28, [WorkgroupSize, kvF16]);
                break;
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
        if (HeadDim != 0 && headDim != HeadDim)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"this {Layout} attention kernel is specialised for headDim {HeadDim}, not {headDim}");
        if (HeadDim != 0 && qStride % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(qStride), $"the {Layout} attention kernel reads q as 4-float texels: qStride must be a multiple of 4, got {qStride}");
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
