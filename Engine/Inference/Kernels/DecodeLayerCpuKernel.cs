using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// decode_layer_cpu_f16.comp and _f32.comp: a layer of a decode step in one dispatch on CPU devices (lavapipe), where the per-op
/// decode takes five (QKV + rope + cache append, attention, Wo + residual + norm, gate/up + SwiGLU, W_down + residual +
/// norm). Its grid is one workgroup per llvmpipe thread, which all run at once, and the phases are separated by spin
/// syncs between them: on lavapipe each dependent dispatch costs two thread wake-ups of the queue and pool threads
/// (~45-60 µs on the 2-core VM this was measured on), a sync ~1-3 µs. The kernel binds what the five per-op kernels of
/// the layer bind, in their order (<see cref="Bind"/>), so it reads and writes exactly their buffers, with their
/// arithmetic. A sync that waits too long (a thread that never came) gives up and raises <see cref="Failed"/>; the step's
/// results are then wrong and the caller reruns it with the per-op dispatches.
/// </summary>
public sealed class DecodeLayerCpuKernel : IDisposable
{
    /// <summary>The environment variable that sets the grid: 0 turns the kernel off, N runs N workgroups (at most
    /// llvmpipe's threads, or the syncs give up).</summary>
    public const string WorkgroupsVariable = "TIPO_CPU_DECODE_WORKGROUPS";

    private readonly ComputeKernel _kernel;
    private readonly GpuBuffer _sync;   // { uint arrived; uint failed; uint sink; } host-visible: arrived zeroed before each step, failed until ClearFailure

    /// <summary>Workgroups per dispatch (one subgroup each).</summary>
    public uint Workgroups { get; }
    /// <summary>Polls a dispatch's syncs may take in all before they give up.</summary>
    public uint SyncPolls { get; }

    private readonly record struct Push(uint Layer);

    /// <summary>Most threads Mesa 22.3's llvmpipe runs (LP_MAX_THREADS; later versions allow more).</summary>
    public const int LlvmpipeMaxThreads = 16;

    /// <summary>Least F16 weight bytes a layer (QKV, Wo, gate, up, W_down) for the default grid to turn the kernel on.
    /// Below it each phase is a few microseconds of work, and a thread that the OS runs late (or on the other's core)
    /// leaves the other spinning for a large share of the step: the 2-layer test model tipo-small (hidden 256, ~1.25 MB a
    /// layer) decoded 112-291 tok/s with it against 161-229 per-op (sampled, 1200 cached tokens), a batch of TIPO
    /// requests 189-192 s against 165-175; tipo-100m-like (6.8 MB a layer) gained 1.28x, tipo-200m (15 MB) 1.24x.</summary>
    public const long MinLayerBytes = 4L << 20;

    /// <summary>F16 bytes of a layer's matrices for a model of shape <paramref name="c"/>.</summary>
    public static long LayerBytes(LlamaConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        long q = (long)c.HeadCount * c.HeadDim, kv = (long)c.KvHeadCount * c.HeadDim;
        return 2 * ((long)c.HiddenSize * (q + 2 * kv) + q * c.HiddenSize + 3L * c.HiddenSize * c.IntermediateSize);
    }

    /// <summary>The grid for a model of shape <paramref name="c"/> on <paramref name="device"/>: <paramref name="requested"/>
    /// when given (<see cref="InferenceOptions.CpuDecodeWorkgroups"/>), else <see cref="WorkgroupsVariable"/> when set;
    /// else, on llvmpipe with its thread pool (not <see cref="VulkanDevice.CpuDriverInline"/>) and layers of at least
    /// <see cref="MinLayerBytes"/>, as many workgroups as it has threads, no more: one per processor this process may use
    /// (llvmpipe starts one per online CPU, so never fewer), at most <see cref="LlvmpipeMaxThreads"/> and at most
    /// LP_NUM_THREADS where that is set; 0 (off) elsewhere and below two.</summary>
    public static uint WorkgroupsFor(VulkanDevice device, LlamaConfig c, int? requested = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(c);
        if (requested is int r) return (uint)Math.Max(0, r);
        if (DecodeLayerKernel.GridFromEnvironment(WorkgroupsVariable, "the one-dispatch CPU decode layer") is uint n) return n;
        if (device.Info.Kind != DeviceKind.Cpu || device.CpuDriverInline || !device.Info.DriverName.Contains("llvmpipe", StringComparison.OrdinalIgnoreCase)
            || LayerBytes(c) < MinLayerBytes)
            return 0;
        int threads = Math.Min(Environment.ProcessorCount, LlvmpipeMaxThreads);
        if (int.TryParse(Environment.GetEnvironmentVariable("LP_NUM_THREADS"), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int lp) && lp >= 0)
            threads = Math.Min(threads, lp);
        return threads >= 2 ? (uint)threads : 0;
    }

    private static readonly BindingKind[] Kinds =
    [
        // QKV: W, X, Y (q), K, V, step
        BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer,
        // attention: Q, K, V, O, step
        BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer,
        // Wo: W, X, Y, norm weights, normed, counter
        BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer,
        // gate/up: W, X, Y
        BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer,
        // W_down: W, X, Y, norm weights, normed, counter
        BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer,
        // sync
        BindingKind.StorageBuffer,
    ];

    /// <summary>Loop iterations llvmpipe lets one invocation run (<see cref="AttentionKernel.LlvmpipeLoopIterations"/>)
    /// kept for the syncs' polls after the layer's own loops, at the least.</summary>
    private const int MinSyncPolls = 4096;

    /// <summary>The loop iterations one workgroup's invocation runs for a layer of shape <paramref name="c"/> at a context
    /// of <paramref name="contextLength"/> tokens on <paramref name="workgroups"/> workgroups of <paramref name="lanes"/>
    /// lanes (<paramref name="rowsPerLane"/> rows each), rounded up: each phase's blocks or heads, and each block's k loop
    /// (a 16-byte texel of <paramref name="weightsPerTexel"/> weights an iteration: 8 F16, 4 F32) or each head's key loop.</summary>
    public static long LoopIterations(LlamaConfig c, int contextLength, uint workgroups, uint lanes, uint rowsPerLane, uint weightsPerTexel = 8)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentOutOfRangeException.ThrowIfZero(weightsPerTexel);
        long block = lanes * rowsPerLane;
        long Share(long units) => (units + workgroups - 1) / workgroups;
        long Blocks(long rows) => Share((rows + block - 1) / block);
        long qkv = (long)(c.HeadCount + 2 * c.KvHeadCount) * c.HeadDim;
        long q = (long)c.HeadCount * c.HeadDim;
        long Texels(long cols) => cols / weightsPerTexel + 1;
        long matvecs = Blocks(qkv) * Texels(c.HiddenSize) + Blocks(c.HiddenSize) * Texels(q) + Blocks(2L * c.IntermediateSize) * Texels(c.HiddenSize)
            + Blocks(c.HiddenSize) * Texels(c.IntermediateSize);
        long attention = Share(c.HeadCount) * ((contextLength + lanes - 1) / lanes + 1);
        long norms = 2 * 2 * (c.HiddenSize / 4 / lanes + 1);
        return matvecs + attention + norms + 64;
    }

    /// <summary>Weights in one 16-byte texel of a <paramref name="weightType"/> matrix: 8 F16, 4 F32.</summary>
    private static uint WeightsPerTexel(GgmlType weightType) => weightType == GgmlType.F16 ? 8u : 4u;

    /// <summary>Why the kernel cannot run a layer of shape <paramref name="c"/> at <paramref name="contextLength"/> on
    /// <paramref name="workgroups"/> workgroups, or null: a CPU device, rope pairs and heads that fit the rows kernels
    /// (their checks are the caller's), and enough of llvmpipe's loop iterations left for the syncs with matrices of
    /// <paramref name="weightType"/>.</summary>
    public static string? WhyNot(VulkanDevice device, LlamaConfig c, int contextLength, uint workgroups, uint lanes, uint rowsPerLane,
        GgmlType weightType = GgmlType.F16)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Info.Kind != DeviceKind.Cpu) return "not a CPU device";
        if (workgroups < 2) return "fewer than two workgroups (one thread needs no syncs)";
        long left = AttentionKernel.LlvmpipeLoopIterations - LoopIterations(c, contextLength, workgroups, lanes, rowsPerLane, WeightsPerTexel(weightType));
        if (left < MinSyncPolls) return $"the layer's loops leave {left} of llvmpipe's {AttentionKernel.LlvmpipeLoopIterations} iterations for the syncs";
        return null;
    }

    /// <param name="lanes">the rows kernels' and the attention kernel's workgroup size (one subgroup).</param>
    /// <param name="rowsPerLane">the decode rows kernels' rows per lane (their row tile is lanes x rowsPerLane).</param>
    /// <param name="weightType">the four matrices' type: F16 (decode_layer_cpu_f16.comp) or F32 (decode_layer_cpu_f32.comp).</param>
    /// <param name="fetchLag">the decode rows kernels' fetch lag (<see cref="MatmulKernel.FetchLag"/>), which the layer repeats.</param>
    public DecodeLayerCpuKernel(VulkanDevice device, LlamaConfig c, GgmlType weightType, MatrixType cacheType, uint workgroups, int contextLength, uint lanes, uint rowsPerLane,
        uint fetchLag = 0)
    {
        if (weightType != GgmlType.F16 && weightType != GgmlType.F32)
            throw new ArgumentOutOfRangeException(nameof(weightType), weightType, "the one-dispatch CPU decode layer reads F16 or F32 matrices");
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(c);
        if (WhyNot(device, c, contextLength, workgroups, lanes, rowsPerLane, weightType) is string why)
            throw new Errors.UnsupportedFeatureException($"the one-dispatch CPU decode layer cannot run on {device.Info.Name}: {why}");
        Workgroups = workgroups;
        SyncPolls = (uint)(AttentionKernel.LlvmpipeLoopIterations - LoopIterations(c, contextLength, workgroups, lanes, rowsPerLane, WeightsPerTexel(weightType)) - 1024);
        float scale = 1f / MathF.Sqrt(c.HeadDim);   // AttentionKernel.Record's default
        _kernel = new ComputeKernel(device, weightType == GgmlType.F16 ? "decode_layer_cpu_f16" : "decode_layer_cpu_f32", Kinds, pushConstantBytes: 4,
        [
            lanes, rowsPerLane, (uint)c.HiddenSize, (uint)c.IntermediateSize, (uint)c.HeadCount, (uint)c.KvHeadCount, (uint)c.HeadDim,
            BitConverter.SingleToUInt32Bits(c.RopeTheta), cacheType == MatrixType.F16 ? 1u : 0u, BitConverter.SingleToUInt32Bits(c.RmsNormEps),
            BitConverter.SingleToUInt32Bits(scale), SyncPolls, fetchLag, AttentionKernel.KeysPerUpdateOn(device),
        ]);
        try
        {
            _sync = new GpuBuffer(device, 16, "decode-layer-cpu-sync", GpuBuffer.Placement.HostStaging);
            _sync.Clear();
        }
        catch
        {
            _kernel.Dispose();
            throw;
        }
    }

    /// <summary>A layer's descriptor set: the decode bindings of its five per-op kernels (the rope-fused QKV, attention,
    /// Wo with the norm after it, the gate/up SwiGLU, W_down with the norm after it), in that order.</summary>
    public KernelBinding Bind(KernelBinding qkv, KernelBinding attention, KernelBinding wo, KernelBinding gateUp, KernelBinding down)
    {
        KernelBinding[] parts = [qkv, attention, wo, gateUp, down];
        var ranges = parts.SelectMany(p => p.Buffers).Append(_sync).ToArray();
        var kinds = parts.SelectMany(p => p.Kernel.BindingKinds).Append(BindingKind.StorageBuffer);
        if (!kinds.SequenceEqual(Kinds))
            throw new ArgumentException("the per-op kernels' bindings are not the ones the one-dispatch CPU decode layer reads (rope-fused QKV, one-subgroup attention, norm-after Wo, SwiGLU, norm-after W_down)");
        return _kernel.Bind(ranges);
    }

    /// <summary>Zeroes the sync counter: once per step, before its first layer (the caller's barrier follows).</summary>
    public void RecordStepStart(CommandSequence seq)
    {
        ArgumentNullException.ThrowIfNull(seq);
        seq.FillBuffer(_sync, 0, 4, 0);
    }

    /// <summary>Records layer <paramref name="layer"/> of a step (its binding from <see cref="Bind"/>); the caller puts a
    /// compute barrier after it.</summary>
    public void Record(CommandSequence seq, KernelBinding binding, int layer)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        seq.Dispatch(binding, new Push((uint)layer), Workgroups);
    }

    /// <summary>Whether a sync since the last <see cref="ClearFailure"/> gave up (that step's results are wrong). Read
    /// after the step's fence.</summary>
    public bool Failed
    {
        get
        {
            Span<uint> flag = stackalloc uint[1];
            _sync.Download(flag, 4);
            return flag[0] != 0;
        }
    }

    public void ClearFailure() => _sync.Clear();

    internal void RaiseFailureFlagForTests() => _sync.Upload<uint>([1u], 4);

    public void Dispose()
    {
        _kernel.Dispose();
        _sync?.Dispose();
    }
}
