using System.Numerics;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// decode_layer.comp: a transformer layer of a decode step per dispatch, for GPUs with F16 weights. The layer's five
/// dependent phases (norm + QKV + rope + cache append, attention, Wo + residual, norm + gate/up + SwiGLU, W_down +
/// residual) run inside the kernel, separated by grid-wide syncs (an atomic counter every workgroup waits on) instead of
/// dispatch boundaries: a decode step becomes one dispatch per layer, one more, and the head, where the per-op recording
/// has five per layer. A dispatch runs phases 2-5 of one layer and then phase 1 of the next (<see cref="Record"/>), so
/// that phase 1's weights load during a grid sync rather than at a dispatch's start. All workgroups must run side by
/// side, which Vulkan does not promise: the grid is one or two workgroups per compute unit of the GPU
/// (<see cref="DeviceInfo.ComputeUnits"/>, <see cref="WorkgroupsPerComputeUnit"/>), and a sync that waits too long gives
/// up and raises <see cref="Failed"/>, after which the caller decodes with the per-op dispatches.
/// </summary>
public sealed class DecodeLayerKernel : IDisposable
{
    /// <summary>Lanes per workgroup (fewer where the device's limit says so).</summary>
    public const uint Lanes = 256;

    /// <summary>Most registers per lane the weights a subgroup loads ahead for one phase may take for two workgroups to
    /// share a compute unit: tipo-500m's gate/up phase holds 20 16-byte texels a lane (80 registers) and two of its
    /// 256-lane workgroups ran side by side on an H200's SMs (264 workgroups: 1139-1231 tok/s against 1160-1188 with
    /// 132); three did not fit (396 workgroups: the syncs gave up). A kernel variant with more live registers no longer
    /// fit two either.</summary>
    public const int TwoPerComputeUnitRegisters = 80;

    /// <summary>The environment variable that overrides the grid: 0 turns the kernel off, N runs N workgroups.</summary>
    public const string WorkgroupsVariable = "TIPO_DECODE_WORKGROUPS";

    private readonly ComputeKernel _kernel;
    private readonly GpuBuffer _sync;       // { uint arrived (bit 31: a sync gave up), pad[3]; uint headChunksDone[n_heads]; } device-local, zeroed before each step
    private readonly GpuBuffer _partials;   // [ceil(ctx / chunk), n_heads, head_dim + 4] f32: attention chunks' sums, max, sum of exponentials
    private readonly GpuBuffer _hostFlag;   // { uint failed; } host-visible
    private readonly GpuBuffer? _timeline;  // [layers, workgroups, DecodeLayerTimeline.Marks] uvec2: the device clock (ns), timeline kernels only
    private readonly int _timelineLayers;

    /// <summary>Workgroups per dispatch.</summary>
    public uint Workgroups { get; }
    public uint WorkgroupSize { get; }
    /// <summary>Keys of a head one workgroup attends to (a unit of the attention phase): one step of its key groups.</summary>
    public uint AttentionChunkKeys { get; }

    private readonly record struct Push(uint Layer, uint Parts);
    private const uint Finish = 1, Begin = 2;   // the shader's FINISH (phases 2-5 of layer - 1) and BEGIN (phase 1 of layer)

    /// <summary>
    /// Why the kernel cannot run a model of shape <paramref name="c"/> with a cache of <paramref name="cacheType"/> on
    /// <paramref name="device"/>, or null when it can: subgroup arithmetic and shuffles, 16-byte weight rows (hidden,
    /// feed-forward and query sizes multiples of 8), whole cache texels per head in a power of two, and its shared
    /// memory within the device's.
    /// </summary>
    public static string? WhyNot(VulkanDevice device, LlamaConfig c, MatrixType cacheType)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(c);
        var info = device.Info;
        if (!info.SubgroupArithmetic || !info.SubgroupShuffle) return "the device lacks subgroup arithmetic or shuffles";
        int qDim = c.HeadCount * c.HeadDim;
        if (c.HiddenSize % 8 != 0 || c.IntermediateSize % 8 != 0 || qDim % 8 != 0) return "a hidden, feed-forward or query size not a multiple of 8";
        if (c.KvHeadCount <= 0 || c.HeadCount % c.KvHeadCount != 0) return "heads not a multiple of the KV heads";
        int texelElems = cacheType == MatrixType.F16 ? 8 : 4;
        if (c.HeadDim % texelElems != 0 || !BitOperations.IsPow2(c.HeadDim / texelElems)) return "a head size that is not a power of two of 16-byte cache texels";
        uint smallest = info.SmallestSubgroupSize;
        if (!info.FixedSubgroupSize) return "no fixed subgroup size (the kernel is compiled for one)";
        if (smallest == 0 || !BitOperations.IsPow2(smallest)) return "a subgroup size that is not a power of two";
        uint wg = WorkgroupSizeFor(device);
        if (wg % Math.Max(smallest, info.MaxSubgroupSize) != 0 || wg < smallest) return "no workgroup size of whole subgroups";
        if (SharedBytes(c, cacheType, wg, smallest) > info.MaxComputeSharedMemorySize) return "more shared memory than the device has";
        return null;
    }

    /// <summary>Workgroups per compute unit for a model of shape <paramref name="c"/> on a device of subgroup size
    /// <paramref name="subgroup"/>: two where the weights a subgroup loads ahead for a phase fit
    /// <see cref="TwoPerComputeUnitRegisters"/> (4 registers a 16-byte texel: four rows of gate/up or two of QKV and Wo of
    /// hidden or query width, one row of W_down), else one.</summary>
    public static uint WorkgroupsPerComputeUnit(LlamaConfig c, uint subgroup)
    {
        ArgumentNullException.ThrowIfNull(c);
        long TexelsPerLane(int cols) => (cols / 8 + subgroup - 1) / Math.Max(1u, subgroup);
        long texels = Math.Max(4 * TexelsPerLane(c.HiddenSize), Math.Max(2 * TexelsPerLane(c.HeadCount * c.HeadDim), TexelsPerLane(c.IntermediateSize)));
        return 4 * texels <= TwoPerComputeUnitRegisters ? 2u : 1u;
    }

    /// <summary>The grid for this device and model: <see cref="WorkgroupsVariable"/> when set, else
    /// <see cref="WorkgroupsPerComputeUnit"/> per compute unit on GPUs that report them; 0 (the per-op dispatches)
    /// elsewhere.</summary>
    public static uint WorkgroupsFor(VulkanDevice device, LlamaConfig c, int? requested)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (requested is int r) return (uint)Math.Max(0, r);
        if (GridFromEnvironment(WorkgroupsVariable, "the one-dispatch decode layer") is uint n) return n;
        return device.Info.Kind == DeviceKind.Cpu ? 0 : device.Info.ComputeUnits * WorkgroupsPerComputeUnit(c, device.Info.SubgroupSize);
    }

    /// <summary>The whole number of workgroups environment variable <paramref name="variable"/> asks for, or null where it is
    /// unset; anything else is an error naming it and <paramref name="kernel"/>, which 0 turns off.</summary>
    internal static uint? GridFromEnvironment(string variable, string kernel)
    {
        string? value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(value)) return null;
        if (!uint.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out uint n))
            throw new ArgumentException($"{variable} must be a whole number of workgroups (0 turns {kernel} off), not '{value}'");
        return n;
    }

    private static uint WorkgroupSizeFor(VulkanDevice device) => Math.Min(Lanes, device.Info.MaxComputeWorkGroupInvocations);

    private static uint HeadLanes(LlamaConfig c, MatrixType cacheType, uint smallestSubgroup) =>
        Math.Min((uint)(c.HeadDim / (cacheType == MatrixType.F16 ? 8 : 4)), smallestSubgroup);

    /// <summary>Shared vec4s: the largest phase input (hidden, query or feed-forward vector) or attention's merge (each key
    /// group's weighted sum of values, and a vec4 of statistics per group).</summary>
    private static uint StageVec4s(LlamaConfig c, MatrixType cacheType, uint wg, uint smallestSubgroup)
    {
        uint groups = wg / HeadLanes(c, cacheType, smallestSubgroup);
        uint merge = groups * (uint)c.HeadDim / 4 + groups;
        return Math.Max(merge, (uint)Math.Max(c.HiddenSize, Math.Max(c.HeadCount * c.HeadDim, c.IntermediateSize)) / 4);
    }

    private static long SharedBytes(LlamaConfig c, MatrixType cacheType, uint wg, uint smallestSubgroup) =>
        16L * StageVec4s(c, cacheType, wg, smallestSubgroup) + 4L * wg;

    /// <param name="workgroups">the grid (<see cref="WorkgroupsFor"/>); at least 1.</param>
    /// <param name="contextLength">the cache's rows: how many attention chunks a head may have.</param>
    /// <param name="attentionChunkKeys">keys per attention unit; null: one step of the key groups (2 keys a group, 64 for
    /// 256 lanes over an F16 cache of 64-wide heads). Tests ask for fewer, to merge chunks at short contexts.</param>
    /// <param name="timelineLayers">0, or the model's layers: the kernel then also writes the device clock at every phase
    /// boundary of every workgroup (decode_layer_timeline.comp; needs <see cref="DeviceInfo.ShaderDeviceClock"/>), read
    /// back by <see cref="ReadTimeline"/>. A profile, not the decode path: the marks cost a store each.</param>
    public DecodeLayerKernel(VulkanDevice device, LlamaConfig c, MatrixType cacheType, uint workgroups, int contextLength, uint? attentionChunkKeys = null,
        int timelineLayers = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(c);
        if (WhyNot(device, c, cacheType) is string why)
            throw new Errors.UnsupportedFeatureException($"the one-dispatch decode layer cannot run on {device.Info.Name}: {why}");
        ArgumentOutOfRangeException.ThrowIfZero(workgroups);
        // llvmpipe runs a dispatch's workgroups on its few threads, one after another on each, and a loop that spins on
        // memory there does not end as written: with two workgroups on lavapipe the syncs neither waited nor gave up (the
        // waiting workgroup stopped short, results wrong, no failure flagged). Mesa 22.3's llvmpipe ends an invocation's
        // loops after 65535 iterations in all (a loop of 100000 ran 65535 times, a second loop after it once), before
        // SPIN_LIMIT. One workgroup never waits.
        if (workgroups > 1 && device.Info.Kind == DeviceKind.Cpu)
            throw new Errors.UnsupportedFeatureException(
                $"the one-dispatch decode layer runs one workgroup on a CPU device ({device.Info.Name}), not {workgroups}: its grid syncs need every workgroup running at once ({WorkgroupsVariable})");
        if (workgroups > device.Info.MaxComputeWorkGroupCount[0])
            throw new ArgumentOutOfRangeException(nameof(workgroups), $"{workgroups} workgroups exceed the device's maxComputeWorkGroupCount[0] ({device.Info.MaxComputeWorkGroupCount[0]})");
        Workgroups = workgroups;
        uint smallest = device.Info.SmallestSubgroupSize;
        WorkgroupSize = WorkgroupSizeFor(device);
        // Attention was a head per workgroup: at depth 512 its 20 workgroups took 7.3 us of a tipo-500m layer while the
        // other 244 waited (H200). In chunks of one key-group step (the kernel's KEYS_IN_FLIGHT = 2 keys a group) every
        // workgroup takes a share, and the workgroup that finishes a head's last chunk merges the head's chunks.
        AttentionChunkKeys = attentionChunkKeys ?? 2 * (WorkgroupSize / HeadLanes(c, cacheType, smallest));
        ArgumentOutOfRangeException.ThrowIfZero(AttentionChunkKeys, nameof(attentionChunkKeys));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(contextLength);
        ArgumentOutOfRangeException.ThrowIfNegative(timelineLayers);
        if (timelineLayers > 0 && !device.Info.ShaderDeviceClock)
            throw new Errors.UnsupportedFeatureException($"the decode layer's phase timeline needs a device clock in shaders (VK_KHR_shader_clock), which {device.Info.Name} lacks");
        _timelineLayers = timelineLayers;
        long chunks = (contextLength + AttentionChunkKeys - 1) / AttentionChunkKeys;
        // A sync polls the counter in a loop: on a GPU each poll is a trip to L2 (~1 us), on llvmpipe a few ns.
        uint spinLimit = device.Info.Kind == DeviceKind.Cpu ? 1u << 26 : 1u << 22;
        _kernel = new ComputeKernel(device, timelineLayers > 0 ? "decode_layer_timeline" : "decode_layer", bindingCount: timelineLayers > 0 ? 20 : 19, pushConstantBytes: 8,
        [
            WorkgroupSize, (uint)c.HiddenSize, (uint)c.IntermediateSize, (uint)c.HeadCount, (uint)c.KvHeadCount, (uint)c.HeadDim,
            BitConverter.SingleToUInt32Bits(c.RopeTheta), BitConverter.SingleToUInt32Bits(c.RmsNormEps), cacheType == MatrixType.F16 ? 1u : 0u,
            StageVec4s(c, cacheType, WorkgroupSize, smallest), HeadLanes(c, cacheType, smallest), spinLimit, device.Info.SubgroupSize, AttentionChunkKeys,
        ]);
        try
        {
            _sync = new GpuBuffer(device, 16 + 4L * c.HeadCount, "decode-layer-sync", GpuBuffer.Placement.DeviceOnly);
            _partials = new GpuBuffer(device, 4L * chunks * c.HeadCount * (c.HeadDim + 4), "decode-layer-attention-chunks", GpuBuffer.Placement.DeviceOnly);
            _hostFlag = new GpuBuffer(device, 16, "decode-layer-failed", GpuBuffer.Placement.HostStaging);
            _hostFlag.Clear();
            if (timelineLayers > 0)
                _timeline = new GpuBuffer(device, 8L * timelineLayers * workgroups * DecodeLayerTimeline.Marks, "decode-layer-timeline", GpuBuffer.Placement.DeviceOnly);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Binds dispatch <c>d</c> of a step (<see cref="Record"/>): phase 1 of layer d (its QKV weights, attention norm
    /// and caches) and phases 2-5 of layer d - 1 (its caches, to attend over, and the rest of its weights). Dispatch 0 has
    /// no phases 2-5 and dispatch L no phase 1: bind any layer's buffers there (they are not read).</summary>
    /// <param name="x">[hidden] f32: the residual stream, read and updated</param>
    /// <param name="wQkv">[q_dim + 2 kv_dim, hidden] f16: Wq, Wk, Wv stacked, q and k rows in GGUF's interleaved rope pairs</param>
    /// <param name="attnNorm">[hidden] f32</param>
    /// <param name="kCache">[ctx, kv_dim] f32|f16: layer d's, where phase 1 appends k</param>
    /// <param name="vCache">[ctx, kv_dim] f32|f16: layer d's, where phase 1 appends v</param>
    /// <param name="step">{ uint pos0 }</param>
    /// <param name="q">[q_dim] f32 scratch: the roped query</param>
    /// <param name="attention">[q_dim] f32 scratch: attention output</param>
    /// <param name="wO">[hidden, q_dim] f16</param>
    /// <param name="ffnNorm">[hidden] f32</param>
    /// <param name="wGate">[ff, hidden] f16</param>
    /// <param name="wUp">[ff, hidden] f16</param>
    /// <param name="hidden">[ff] f32 scratch: silu(gate) * up</param>
    /// <param name="wDown">[hidden, ff] f16</param>
    /// <param name="attentionKCache">[ctx, kv_dim] f32|f16: layer d - 1's, attended over</param>
    /// <param name="attentionVCache">[ctx, kv_dim] f32|f16: layer d - 1's</param>
    public KernelBinding Bind(BufferRange x, BufferRange wQkv, BufferRange attnNorm, BufferRange kCache, BufferRange vCache, BufferRange step,
        BufferRange q, BufferRange attention, BufferRange wO, BufferRange ffnNorm, BufferRange wGate, BufferRange wUp, BufferRange hidden, BufferRange wDown,
        BufferRange attentionKCache, BufferRange attentionVCache)
    {
        BufferRange[] buffers = [x, wQkv, attnNorm, kCache, vCache, step, q, attention, wO, ffnNorm, wGate, wUp, hidden, wDown, _sync, _hostFlag, _partials,
            attentionKCache, attentionVCache];
        return _kernel.Bind(_timeline is null ? buffers : [.. buffers, _timeline]);
    }

    /// <summary>Records what a step does before its first layer: zeroes the sync counter and the heads' chunk counters (a transfer; the caller's
    /// <see cref="CommandSequence.Barrier"/> orders it before the layers).</summary>
    public void RecordStepStart(CommandSequence seq)
    {
        ArgumentNullException.ThrowIfNull(seq);
        seq.FillBuffer(_sync, 0, _sync.SizeBytes, 0);
    }

    /// <summary>Records dispatch <paramref name="dispatch"/> (0 .. <paramref name="layers"/>) of a step of a model of
    /// <paramref name="layers"/> layers, bound by <see cref="Bind"/> for it: phases 2-5 of layer dispatch - 1 (after
    /// dispatch 0), then phase 1 of layer dispatch (before the last). The caller puts a compute barrier after each.</summary>
    public void Record(CommandSequence seq, KernelBinding binding, int dispatch, int layers)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        ArgumentOutOfRangeException.ThrowIfNegative(dispatch);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dispatch, layers);
        uint parts = (dispatch > 0 ? Finish : 0) | (dispatch < layers ? Begin : 0);
        seq.Dispatch(binding, new Push((uint)dispatch, parts), Workgroups);
    }

    /// <summary>Dispatches a step takes for a model of <paramref name="layers"/> layers (one more than its layers).</summary>
    public static int DispatchesPerStep(int layers) => layers + 1;

    /// <summary>Whether a sync of a step since the last <see cref="ClearFailure"/> gave up waiting (the step's results are
    /// wrong). Read by the host after the step's fence.</summary>
    public bool Failed
    {
        get
        {
            Span<uint> flag = stackalloc uint[1];
            _hostFlag.Download(flag);
            return flag[0] != 0;
        }
    }

    public void ClearFailure() => _hostFlag.Clear();

    /// <summary>The marks the last step wrote (a kernel made with timeline layers; read after the step's fence).</summary>
    public DecodeLayerTimeline ReadTimeline()
    {
        if (_timeline is null) throw new InvalidOperationException("this decode-layer kernel was made without a timeline (timelineLayers: 0)");
        var ns = new ulong[_timelineLayers * (long)Workgroups * DecodeLayerTimeline.Marks];
        _timeline.Download<ulong>(ns);
        return new DecodeLayerTimeline(ns, _timelineLayers, (int)Workgroups);
    }

    /// <summary>Sets the failure flag as a sync that gave up would (tests of the caller's recovery on devices whose syncs
    /// never wait: lavapipe runs one workgroup).</summary>
    internal void RaiseFailureFlagForTests() => _hostFlag.Upload<uint>([1u]);

    public void Dispose()
    {
        _kernel.Dispose();
        _sync?.Dispose();
        _partials?.Dispose();
        _timeline?.Dispose();
        _hostFlag?.Dispose();
    }
}
