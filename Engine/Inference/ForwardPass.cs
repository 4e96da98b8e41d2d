using Tipo.Inference.Kernels;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference;

/// <summary>Which rows of logits a forward pass produces.</summary>
public enum LogitsMode
{
    /// <summary>Only the last token's (generation).</summary>
    Last,
    /// <summary>Every token's (teacher-forced evaluation).</summary>
    All,
}

/// <summary>
/// The LLaMA forward pass as a command recording: for n new tokens at cache positions pos0..pos0+n-1 (pos0 read by
/// the GPU from <see cref="Activations.Step"/>, so a recording does not depend on it) it appends their K/V to the
/// cache and leaves logits in <see cref="Activations.Logits"/>. Decode is recorded once and replayed every token
/// (<see cref="RecordDecode"/>); prefill (n &gt; 1) runs the weight products as matrix-matrix kernels that reuse each
/// weight load across a block of tokens. Every descriptor set is written once, at construction.
/// Per layer: rmsnorm, QKV (one matmul over the stacked weights), rope of q and k with k and v appended to the cache
/// (one dispatch), attention, Wo (+ residual), rmsnorm, gate/up (one fused SwiGLU matmul where the layout has it),
/// W_down (+ residual). In the wide split-k layout (GPUs, F16) each rmsnorm runs inside the matmul after it, gate and up
/// are one SwiGLU matmul and the rope and cache append (GGUF's interleaved pairs) run in the QKV matmul's epilogue: 5
/// dispatches per layer. In the rows-per-lane layout (CPU devices) gate and up are one SwiGLU matmul and the QKV
/// epilogue ropes rotate-half pairs (GGUF's Q/K rows are reordered to them at upload) of a head size that fits its
/// lanes, but the rmsnorms stay dispatches of their own (MatmulKernel.FusesNorm): 7 per layer for F16, F32 and Q8_0
/// weights (8 where the rope cannot join). Decode on GPUs that report their compute units, with F16 weights, runs each
/// layer as one dispatch of <see cref="DecodeLayerKernel"/> instead (its five phases separated by grid-wide syncs; a
/// dispatch ends with the next layer's first phase); on llvmpipe, with F16 rows-per-lane matrices, as one dispatch of
/// <see cref="DecodeLayerCpuKernel"/> (the five per-op kernels' work and bindings, one workgroup per llvmpipe thread, spin
/// syncs between them).
/// </summary>
public sealed class ForwardPass : IDisposable
{
    private readonly LlamaConfig _c;
    private readonly RopeLayout _ropeLayout;
    private readonly Activations _a;
    private readonly int _qDim, _kvDim, _qkvDim;

    private readonly RmsNormKernel _rmsNorm;
    private readonly GpuBuffer _normCounter;   // [1] u32: workgroups finished of a projection that applies the norm after it (zero between dispatches)
    private readonly RopeKvStoreKernel _ropeKvStore;
    private readonly AttentionKernel _attention;
    private readonly SwiGluKernel _swiGlu;
    private readonly ArgmaxKernel _argmax;
    private readonly KernelBinding _argmaxBinding;
    private readonly VulkanDevice _device;
    private readonly KernelSet _kernels;   // Gpu or Cpu, resolved
    private readonly bool _f16Cache;
    // Matmul kernels by weight type, layout and fusions (rows-per-lane on CPU devices, wide split-k for F16 on GPUs, where
    // the shape allows; else split-k).
    private readonly Dictionary<(GgmlType, MatmulLayout, bool Glu, bool Norm, int TileRows, bool Rope, bool NormAfter), MatmulKernel> _matvec = [];   // decode: 1 token per workgroup
    private readonly Dictionary<(GgmlType, MatmulLayout, bool Glu, bool Norm, int TileRows, bool Rope, bool NormAfter), MatmulKernel> _matmul = [];   // prefill: a block of tokens per workgroup
    private readonly uint? _rowsPrefillTokens;   // tokens per workgroup of the rows-per-lane prefill matmuls; null: MatmulKernel.PrefillTokensFor

    private readonly LayerBindings[] _layers;
    private readonly KernelBinding _outputNorm;
    private readonly bool _outputNormFused;        // the norm runs inside the output matmul
    private readonly MatrixBindings _output;
    // Decode with one dispatch per layer (GPUs, F16 weights; null where it does not fit or is off), its binding per dispatch,
    // and whether decode steps still use it (a failed grid sync turns it off for good).
    private readonly DecodeLayerKernel? _decodeLayer;
    private readonly KernelBinding[]? _decodeLayerBindings;
    private bool _decodeLayerOn;   // implies _decodeLayer != null
    // Makes the kernel (with the timeline layers it marks, 0 for none) bound for every dispatch; and its variant that writes
    // the device clock at every phase boundary, made at the first profile.
    private readonly Func<int, (DecodeLayerKernel Kernel, KernelBinding[] Bindings)>? _newDecodeLayer;
    private (DecodeLayerKernel Kernel, KernelBinding[] Bindings)? _decodeLayerTimeline;
    // Decode with one dispatch per layer on CPU devices (DecodeLayerCpuKernel; null where it does not fit or is off), its
    // binding per layer, and whether decode steps still use it (a sync that gave up turns it off for good).
    private readonly DecodeLayerCpuKernel? _cpuLayer;
    private readonly KernelBinding[]? _cpuLayerBindings;
    private bool _cpuLayerOn;   // implies _cpuLayer != null

    /// <summary>One weight matrix (or a gate/up pair) bound to its input and output, for the decode and the prefill kernel;
    /// its rows land at column <paramref name="RowOffset"/> of output rows <paramref name="YStride"/> floats wide.</summary>
    /// <param name="NormsAfterInDecode">its decode kernel (one token) also writes the RMSNorm of Y to XNorm (MatmulKernel.NormAfterEps).</param>
    private sealed record MatrixBindings(GpuMatrix Matrix, int RowOffset, int YStride, MatmulKernel DecodeKernel, KernelBinding[] Decode, MatmulKernel PrefillKernel, KernelBinding[] Prefill,
        bool NormsAfterInDecode = false);

    /// <param name="AttnNormFused">the attention norm runs inside the QKV matmul (which then reads X), in decode and prefill
    /// alike, so a token's activations do not depend on the path.</param>
    /// <param name="FfnNormFused">the same for the feed-forward norm and the SwiGLU matmul.</param>
    /// <param name="FfnGlu">gate and up in one SwiGLU matmul into Gate; else Gate and Up, then the swiglu kernel.</param>
    /// <param name="RopeKvStore">null when the rope and the cache append run in the QKV matmul's epilogue.</param>
    private sealed record LayerBindings(
        KernelBinding AttnNorm, bool AttnNormFused, MatrixBindings[] Qkv, KernelBinding? RopeKvStore, KernelBinding Attention, MatrixBindings O,
        KernelBinding FfnNorm, bool FfnNormFused, MatrixBindings? FfnGlu, MatrixBindings? Gate, MatrixBindings? Up, KernelBinding? SwiGlu, MatrixBindings Down);

    /// <param name="decodeWorkgroups">the grid of the one-dispatch decode layer (<see cref="DecodeLayerKernel.WorkgroupsFor"/>); 0 records
    /// decode as per-op dispatches. Used where the model fits it (<see cref="DecodeLayerFits"/>).</param>
    /// <param name="decodeAttentionChunkKeys">keys per attention unit of the one-dispatch decode layer; null: its default.</param>
    /// <param name="cpuDecodeWorkgroups">the grid of the one-dispatch CPU decode layer (<see cref="DecodeLayerCpuKernel.WorkgroupsFor"/>);
    /// below 2 records decode as per-op dispatches. Used where the model fits it (<see cref="CpuDecodeLayerFits"/>).</param>
    /// <param name="rowsPrefillTokens">tokens per workgroup of the rows-per-lane prefill matmuls; null: <see cref="MatmulKernel.PrefillTokensFor"/>.</param>
    public ForwardPass(VulkanDevice device, LlamaConfig config, RopeLayout ropeLayout, LlamaWeights weights, KvCache cache, Activations activations,
        KernelSet kernels = KernelSet.Auto, uint decodeWorkgroups = 0, uint? decodeAttentionChunkKeys = null, uint cpuDecodeWorkgroups = 0,
        uint? rowsPrefillTokens = null)
    {
        _device = device;
        if (rowsPrefillTokens is < 2)
            throw new ArgumentOutOfRangeException(nameof(rowsPrefillTokens), rowsPrefillTokens, "a prefill workgroup takes 2 tokens or more");
        _rowsPrefillTokens = rowsPrefillTokens;
        _kernels = KernelSets.UseCpuKernels(device, kernels) ? KernelSet.Cpu : KernelSet.Gpu;
        bool cpu = _kernels == KernelSet.Cpu;
        _c = config; _ropeLayout = ropeLayout; _a = activations;
        if (config.RopeDimensionCount != 0 && config.RopeDimensionCount != config.HeadDim)
            throw new Errors.UnsupportedFeatureException($"partial rotary embeddings (rope dimension {config.RopeDimensionCount} of head_dim {config.HeadDim}) are not supported");
        _qDim = config.HeadCount * config.HeadDim;
        _kvDim = config.KvHeadCount * config.HeadDim;
        _qkvDim = _qDim + 2 * _kvDim;
        bool f16Cache = cache.Type == KvCacheType.F16;
        _f16Cache = f16Cache;
        _rmsNorm = new RmsNormKernel(device, RmsNormKernel.UsesSubgroupKernel(device, _kernels, config.HiddenSize));
        _normCounter = new GpuBuffer(device, 16, "norm-after-counter");
        _normCounter.Clear();
        _ropeKvStore = new RopeKvStoreKernel(device, f16Cache, config.HeadDim);
        MatrixType cacheType = f16Cache ? MatrixType.F16 : MatrixType.F32;
        _attention = new AttentionKernel(device, cacheType, AttentionKernel.LayoutFor(device, _kernels, cacheType, config.HeadDim), config.HeadDim);
        _swiGlu = new SwiGluKernel(device);
        _argmax = new ArgmaxKernel(device);

        var a = activations;
        _outputNormFused = FusesNorm(weights.Output);
        // The RMSNorms go into the projection after them where that is one wide split-k matmul (GPUs); the CPU devices'
        // rows-per-lane matmuls read X normalised by the rmsnorm kernel (MatmulKernel.FusesNorm).
        bool[] attnNormFused = weights.Layers.Select(lw => lw.Qkv.Count == 1 && FusesNorm(lw.Qkv[0])).ToArray();
        // The norm after each projection onto the residual stream: Wo's is the feed-forward norm, W_down's the next layer's
        // attention norm or the output norm; null where the next matmul fuses it itself.
        GpuBuffer? NormAfterDown(int l) => l + 1 < config.LayerCount
            ? (attnNormFused[l + 1] ? null : weights.Layers[l + 1].AttnNorm)
            : (_outputNormFused ? null : weights.OutputNorm);
        _layers = new LayerBindings[config.LayerCount];
        for (int l = 0; l < config.LayerCount; l++)
        {
            var lw = weights.Layers[l];
            // The rope joins the QKV matmul's epilogue where that is one matrix whose kernel holds both rows of a pair: wide
            // split-k with GGUF's interleaved pairs (neighbouring rows of one workgroup), rows-per-lane with rotate-half
            // pairs (rows of one lane, where the head size allows).
            MatmulLayout qkvLayout = MatmulKernel.LayoutFor(device, lw.Qkv[0].Type, lw.Qkv[0].Cols, _kernels);
            bool ropeFused = lw.Qkv.Count == 1 && lw.Qkv[0].Chunks.Count == 1 &&
                             MatmulKernel.RopeFits(device, qkvLayout, lw.Qkv[0].Type, ropeLayout, config.HeadDim, f16Cache);
            var qkv = new MatrixBindings[lw.Qkv.Count];
            for (int i = 0, row = 0; i < qkv.Length; row += lw.Qkv[i].Rows, i++)
                qkv[i] = BindMatrix(lw.Qkv[i], a.XNorm, a.Qkv, _qkvDim, row, norm: attnNormFused[l] ? (a.X, lw.AttnNorm) : null,
                    cache: ropeFused ? (cache.Keys(l), cache.Values(l), a.Step) : null);
            bool glu = lw.GateUp != null && MatmulKernel.LayoutFor(device, lw.GateUp.Type, lw.GateUp.Cols, _kernels) == MatmulLayout.RowsPerLane
                       && lw.GateUp.Chunks.Count == 1;
            if (lw.GateUp != null && !glu)
                throw new InvalidOperationException($"layer {l}: gate and up were interleaved for the fused SwiGLU kernel, which this device cannot run");
            // The wide split-k kernel takes gate and up as two matrices of one shape.
            bool wideGlu = lw.Gate != null && lw.Up != null && lw.Gate.Type == lw.Up.Type && lw.Gate.Rows == lw.Up.Rows &&
                           lw.Gate.Cols == lw.Up.Cols && lw.Gate.Chunks.Count == 1 && lw.Up.Chunks.Count == 1 &&
                           MatmulKernel.LayoutFor(device, lw.Gate.Type, lw.Gate.Cols, _kernels) == MatmulLayout.WideSplitK;
            _layers[l] = new LayerBindings(
                AttnNorm: _rmsNorm.Bind(a.X, lw.AttnNorm, a.XNorm), AttnNormFused: attnNormFused[l],
                Qkv: qkv,
                RopeKvStore: ropeFused ? null : _ropeKvStore.Bind(a.Qkv, cache.Keys(l), cache.Values(l), a.Step),
                Attention: _attention.Bind(a.Qkv, cache.Keys(l), cache.Values(l), a.Attention, a.Step),
                O: BindMatrix(lw.O, a.Attention, a.X, config.HiddenSize, normAfter: wideGlu ? null : lw.FfnNorm),
                FfnNorm: _rmsNorm.Bind(a.X, lw.FfnNorm, a.XNorm), FfnNormFused: wideGlu,
                FfnGlu: glu ? BindMatrix(lw.GateUp!, a.XNorm, a.Gate, lw.GateUp!.Rows / 2, glu: true)
                    : wideGlu ? BindMatrix(lw.Gate!, null, a.Gate, config.IntermediateSize, norm: (a.X, lw.FfnNorm), glu: true, up: lw.Up) : null,
                Gate: glu || wideGlu ? null : BindMatrix(lw.Gate!, a.XNorm, a.Gate, config.IntermediateSize),
                Up: glu || wideGlu ? null : BindMatrix(lw.Up!, a.XNorm, a.Up, config.IntermediateSize),
                SwiGlu: glu || wideGlu ? null : _swiGlu.Bind(a.Gate, a.Up, a.Gate),
                Down: BindMatrix(lw.Down, a.Gate, a.X, config.HiddenSize, normAfter: NormAfterDown(l)));
        }
        _outputNorm = _rmsNorm.Bind(a.X, weights.OutputNorm, a.XNorm);
        _output = BindMatrix(weights.Output, a.XNorm, a.Logits, config.VocabSize, norm: _outputNormFused ? (a.X, weights.OutputNorm) : null);
        _argmaxBinding = _argmax.Bind(a.Logits, a.Argmax);
        // The kernels above (and the one-dispatch decode layer, where it runs) compile side by side on worker threads; a
        // failure surfaces here, in the constructor, after the kernels are disposed (each waits for its own compilation).
        try
        {
            if (cache.ContextLength > _attention.MaxKeys)
            {
                string kernel = _attention.Layout == AttentionLayout.Tiles
                    ? $"the portable tiles kernel, which runs there for heads of {config.HeadDim} (not whole 16-byte cache texels, or no subgroup arithmetic),"
                    : "its one-subgroup attention kernel";
                throw new Errors.UnsupportedFeatureException(
                    $"a context of {cache.ContextLength} tokens is more than attention can take on {device.Info.Name}: the loops of {kernel} would pass " +
                    $"llvmpipe's limit of {AttentionKernel.LlvmpipeLoopIterations} iterations per invocation beyond {_attention.MaxKeys} keys; " +
                    $"use a context of at most {_attention.MaxKeys}");
            }
            if (decodeWorkgroups > 0 && DecodeLayerFits(weights, cacheType) is null)
            {
                _newDecodeLayer = timelineLayers =>
                {
                    var k = new DecodeLayerKernel(device, config, cacheType, decodeWorkgroups, cache.ContextLength, decodeAttentionChunkKeys, timelineLayers);
                    try
                    {
                        // Dispatch d: phase 1 of layer d, phases 2-5 of layer d - 1 (DecodeLayerKernel.Record); the first
                        // and last dispatches bind a neighbour's buffers where they have no phase to read them.
                        int layers = weights.Layers.Count;
                        return (k, Enumerable.Range(0, DecodeLayerKernel.DispatchesPerStep(layers)).Select(d =>
                        {
                            int begin = Math.Min(d, layers - 1), finish = Math.Max(d - 1, 0);
                            var lb = weights.Layers[begin];
                            var lf = weights.Layers[finish];
                            return k.Bind(a.X, lb.Qkv[0].Chunks[0].Buffer, lb.AttnNorm, cache.Keys(begin), cache.Values(begin), a.Step,
                                a.Qkv, a.Attention, lf.O.Chunks[0].Buffer, lf.FfnNorm, lf.Gate!.Chunks[0].Buffer, lf.Up!.Chunks[0].Buffer, a.Gate,
                                lf.Down.Chunks[0].Buffer, cache.Keys(finish), cache.Values(finish));
                        }).ToArray());
                    }
                    catch
                    {
                        k.Dispose();
                        throw;
                    }
                };
                (_decodeLayer, _decodeLayerBindings) = _newDecodeLayer(0);
                _decodeLayerOn = true;
            }
            if (cpuDecodeWorkgroups >= 2 && CpuDecodeLayerFits(cpuDecodeWorkgroups, cache.ContextLength) is null)
            {
                _cpuLayer = new DecodeLayerCpuKernel(device, config, _layers[0].O.Matrix.Type, cacheType, cpuDecodeWorkgroups, cache.ContextLength,
                    _layers[0].O.DecodeKernel.WorkgroupSize, MatmulKernel.DecodeRowsPerLane, _layers[0].O.DecodeKernel.FetchLag);
                _cpuLayerBindings = _layers.Select(L => _cpuLayer.Bind(L.Qkv[0].Decode[0], L.Attention, L.O.Decode[0], L.FfnGlu!.Decode[0], L.Down.Decode[0])).ToArray();
                _cpuLayerOn = true;
            }
            device.WaitForPipelines();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Why the one-dispatch decode layer cannot run this model here, or null: the GPU kernel set, GGUF's interleaved
    /// rope pairs, every layer's matrices F16 in one plain row-major chunk each (QKV stacked, gate and up apart), and the
    /// shape and device <see cref="DecodeLayerKernel.WhyNot"/> asks for.</summary>
    private string? DecodeLayerFits(LlamaWeights weights, MatrixType cacheType)
    {
        if (_kernels != KernelSet.Gpu) return "the CPU kernel set";
        if (_ropeLayout != RopeLayout.Interleaved) return "rotate-half rope pairs";
        static bool Plain(GpuMatrix? m) => m != null && m.Type == GgmlType.F16 && m.Chunks.Count == 1 && m.TileRows == 0;
        foreach (var lw in weights.Layers)
        {
            if (lw.Qkv.Count != 1 || !Plain(lw.Qkv[0]) || !Plain(lw.O) || !Plain(lw.Gate) || !Plain(lw.Up) || !Plain(lw.Down))
                return "weights other than F16 in one chunk each (QKV stacked, gate and up apart)";
        }
        return DecodeLayerKernel.WhyNot(_device, _c, cacheType);
    }

    /// <summary>Why the one-dispatch CPU decode layer cannot run this model here on <paramref name="workgroups"/>
    /// workgroups, or null: every layer decoded by the five kernels it stands in for (the rope-fused QKV matmul, the
    /// one-subgroup attention, Wo and W_down with the norm after them, the gate/up SwiGLU), rows-per-lane matrices of one
    /// type, F16 or F32, in one chunk each in the decode kernels' row tiles with one fetch lag, and what <see cref="DecodeLayerCpuKernel.WhyNot"/>
    /// asks for.</summary>
    private string? CpuDecodeLayerFits(uint workgroups, int contextLength)
    {
        if (_kernels != KernelSet.Cpu) return "the GPU kernel set";
        if (!_attention.OneSubgroup) return "not the one-subgroup attention";
        uint lanes = _attention.WorkgroupSize;
        GgmlType type = _layers[0].O.Matrix.Type;
        if (type != GgmlType.F16 && type != GgmlType.F32) return $"{type} weights (the kernel reads F16 or F32)";
        bool Fits(MatrixBindings? mb) => mb is { Decode.Length: 1 } && mb.Matrix.Type == type && mb.DecodeKernel.Layout == MatmulLayout.RowsPerLane &&
            mb.DecodeKernel.FetchLag == _layers[0].O.DecodeKernel.FetchLag && mb.DecodeKernel.WorkgroupSize == lanes && mb.Matrix.TileRows == lanes * (int)MatmulKernel.DecodeRowsPerLane;
        foreach (var L in _layers)
        {
            if (L.AttnNormFused || L.FfnNormFused || L.RopeKvStore != null || L.Qkv.Length != 1 || L.FfnGlu == null || !L.O.NormsAfterInDecode || !L.Down.NormsAfterInDecode)
                return "a layer decoded by other kernels than the five it stands in for";
            if (!Fits(L.Qkv[0]) || !Fits(L.O) || !Fits(L.FfnGlu) || !Fits(L.Down))
                return "weights other than rows-per-lane matrices of one type, F16 or F32, in one chunk each";
        }
        return DecodeLayerCpuKernel.WhyNot(_device, _c, contextLength, workgroups, lanes, MatmulKernel.DecodeRowsPerLane, type);
    }

    /// <summary>How a decode step is recorded, for reports (<c>tipo bench</c>).</summary>
    public string DecodeLayout => _decodeLayerOn
        ? $"one dispatch per layer ({_decodeLayer!.Workgroups} workgroup{(_decodeLayer.Workgroups == 1 ? "" : "s")} of {_decodeLayer.WorkgroupSize} lanes)"
        : _cpuLayerOn ? $"one dispatch per layer ({_cpuLayer!.Workgroups} workgroups of one subgroup, spin syncs)"
        : "per-op dispatches";

    /// <summary>True when the last decode step ran the one-dispatch layers and one of their grid syncs gave up waiting
    /// (its workgroups did not all run at once): that step's cache row and logits are wrong. Call
    /// <see cref="StopDecodeLayer"/>, record decode again and rerun the step.</summary>
    public bool DecodeLayerFailed => (_decodeLayerOn && _decodeLayer!.Failed) || (_cpuLayerOn && _cpuLayer!.Failed);

    /// <summary>Makes the next decode step look failed (<see cref="DecodeLayerKernel.RaiseFailureFlagForTests"/>).</summary>
    internal void RaiseDecodeLayerFailureForTests()
    {
        _decodeLayer?.RaiseFailureFlagForTests();
        _cpuLayer?.RaiseFailureFlagForTests();
    }

    /// <summary>Records decode steps from now on as per-op dispatches (after <see cref="DecodeLayerFailed"/>).</summary>
    public void StopDecodeLayer()
    {
        _decodeLayerOn = false;
        _decodeLayer?.ClearFailure();
        _cpuLayerOn = false;
        _cpuLayer?.ClearFailure();
    }

    /// <summary>Whether the matmul kernels of <paramref name="m"/> on this device take the RMSNorm before it.</summary>
    private bool FusesNorm(GpuMatrix m) => MatmulKernel.FusesNorm(MatmulKernel.LayoutFor(_device, m.Type, m.Cols, _kernels));

    private MatmulKernel Kernel(Dictionary<(GgmlType, MatmulLayout, bool, bool, int, bool, bool), MatmulKernel> cache, GpuMatrix m, MatmulLayout layout, bool glu, bool norm, uint tokens,
        bool rope = false, bool normAfter = false)
    {
        var key = (m.Type, layout, glu, norm, m.TileRows, rope, normAfter);
        if (!cache.TryGetValue(key, out var k))
        {
            RopeFusion? fusion = rope ? new RopeFusion(_c.HeadDim, _c.HeadCount, _c.KvHeadCount, _c.RopeTheta, _f16Cache) : null;
            cache[key] = k = new MatmulKernel(_device, m.Type, tokens, layout: layout, glu: glu, normEps: norm ? _c.RmsNormEps : null, tileRows: m.TileRows, rope: fusion,
                normAfterEps: normAfter ? _c.RmsNormEps : null);
        }
        return k;
    }

    /// <summary>Binds a matrix to its input and output for the decode and the prefill kernel of its type.</summary>
    /// <param name="x">The (normalised) input, unless the norm is fused.</param>
    /// <param name="norm">The kernels fuse the RMSNorm (wide split-k): they read the residual stream and the norm weights.</param>
    /// <param name="glu">One SwiGLU matmul: rows-per-lane, gate and up interleaved in <paramref name="m"/> (half as many outputs
    /// as rows); wide split-k, <paramref name="m"/> the gate and <paramref name="up"/> the up matrix (one chunk each).</param>
    /// <param name="cache">The layer's K and V caches and the step buffer: the kernels rope q and k and append k and v
    /// (the stacked QKV of the wide split-k and rows-per-lane layouts, <see cref="MatmulKernel.RopeFits"/>).</param>
    /// <param name="normAfter">The weights of the RMSNorm that follows this projection onto the residual stream: its decode
    /// kernel writes the norm of Y to XNorm itself where it can (<see cref="NormAfterFits"/>), and the pass skips that
    /// norm's dispatch after a one-token projection.</param>
    private MatrixBindings BindMatrix(GpuMatrix m, GpuBuffer? x, GpuBuffer y, int yStride, int rowOffset = 0, (GpuBuffer X, GpuBuffer Weights)? norm = null,
        bool glu = false, GpuMatrix? up = null, (GpuBuffer Keys, GpuBuffer Values, GpuBuffer Step)? cache = null, GpuBuffer? normAfter = null)
    {
        var layout = MatmulKernel.LayoutFor(_device, m.Type, m.Cols, _kernels);
        bool fusedNormAfter = normAfter != null && NormAfterFits(m, layout, rowOffset);
        var decode = Kernel(_matvec, m, layout, glu, norm != null, 1, rope: cache != null, normAfter: fusedNormAfter);
        var prefill = Kernel(_matmul, m, layout, glu, norm != null, (layout == MatmulLayout.RowsPerLane ? _rowsPrefillTokens : null) ?? MatmulKernel.PrefillTokensFor(_device, m.Type, layout), rope: cache != null);
        (BufferRange, BufferRange, BufferRange)? cacheRanges = cache is { } c ? (c.Keys, c.Values, c.Step) : null;
        BufferRange? upRange = up == null ? default(BufferRange?) : up.Chunks[0].Buffer;
        BufferRange? normRange = norm == null ? default(BufferRange?) : norm.Value.Weights;
        GpuBuffer input = norm?.X ?? x ?? throw new ArgumentNullException(nameof(x), "an unfused matmul needs its input");
        (BufferRange, BufferRange, BufferRange)? normAfterRanges = fusedNormAfter ? (normAfter!, _a.XNorm, _normCounter) : null;
        return new(m, rowOffset, yStride,
            decode, m.Chunks.Select(ch => decode.Bind(ch.Buffer, input, y, normRange, upRange, cacheRanges, normAfterRanges)).ToArray(),
            prefill, m.Chunks.Select(ch => prefill.Bind(ch.Buffer, input, y, normRange, upRange, cacheRanges)).ToArray(),
            fusedNormAfter);
    }

    /// <summary>Whether the decode kernel of <paramref name="m"/> (a projection onto the residual stream at row 0, one chunk)
    /// can apply the RMSNorm after it with the rmsnorm kernel's bits (<see cref="MatmulKernel.NormAfterFits"/>: the CPU
    /// devices' rows-per-lane kernels). On lavapipe that saves two of the seven dispatches of a layer's decode step.</summary>
    private bool NormAfterFits(GpuMatrix m, MatmulLayout layout, int rowOffset) =>
        layout == MatmulLayout.RowsPerLane && rowOffset == 0 && m.Chunks.Count == 1 && m.Rows == _c.HiddenSize &&
        MatmulKernel.NormAfterFits(_device, m.Type, _rmsNorm);

    /// <summary>What the matmul kernels built for this model run as, for reports (<c>tipo bench</c>): their layouts and, for
    /// the rows-per-lane kernels, the fetch lag and whether prefill shares X across lanes (the per-driver variants).</summary>
    public string MatmulChoices
    {
        get
        {
            var kernels = _matvec.Values.Concat(_matmul.Values).ToList();
            string layouts = string.Join(" and ", kernels.Select(k => k.Layout).Distinct().Order().Select(l => l switch
            {
                MatmulLayout.RowsPerLane => "rows-per-lane",
                MatmulLayout.WideSplitK => "wide split-k",
                _ => "split-k",
            }));
            var rows = kernels.Where(k => k.Layout == MatmulLayout.RowsPerLane).ToList();
            return rows.Count == 0 ? layouts + " matmuls" : string.Format(System.Globalization.CultureInfo.InvariantCulture,
                "{0} matmuls, fetch lag {1}, X shared in prefill: {2}", layouts,
                string.Join("/", rows.Select(k => k.FetchLag).Distinct().Order()), rows.Any(k => k.XShared) ? "yes" : "no");
        }
    }

    /// <summary>Writes the cache position of the next pass's first token (read by the GPU; call between submits).</summary>
    public void SetPosition(int pos0) => _a.Step.Upload<uint>([(uint)pos0]);

    /// <summary>
    /// Records one decode step, to be replayed for every token: the token's embedding is copied from
    /// <see cref="Activations.DecodeInput"/>, its position comes from <see cref="SetPosition"/>, and the last row of
    /// logits (or, with <paramref name="argmax"/>, the greedy choice) is left for the host.
    /// </summary>
    public void RecordDecode(CommandSequence seq, bool argmax) => RecordDecodeStep(seq, argmax, _decodeLayerOn ? (_decodeLayer!, _decodeLayerBindings!) : null);

    private void RecordDecodeStep(CommandSequence seq, bool argmax, (DecodeLayerKernel Kernel, KernelBinding[] Bindings)? layers)
    {
        ArgumentNullException.ThrowIfNull(seq);
        seq.CopyBuffer(_a.DecodeInput, 0, _a.X, 0, 4L * _c.HiddenSize);
        layers?.Kernel.RecordStepStart(seq);
        bool cpuLayers = layers is null && _cpuLayerOn;
        if (cpuLayers) _cpuLayer!.RecordStepStart(seq);
        seq.Barrier();
        Record(seq, 1, LogitsMode.Last, argmax, layers, cpuLayers);
    }

    /// <summary>Workgroups of the one-dispatch decode layer (0 when decode is per-op).</summary>
    public uint DecodeLayerWorkgroups => _decodeLayerOn ? _decodeLayer!.Workgroups : 0;

    /// <summary>Whether <see cref="RecordDecodeWithTimeline"/> can run: decode runs as one dispatch per layer and the
    /// device has a clock shaders can read.</summary>
    public bool DecodeLayerTimelineAvailable => _decodeLayerOn && _device.Info.ShaderDeviceClock;

    /// <summary>Records one decode step as <see cref="RecordDecode"/> does, its layers through the variant of the
    /// decode-layer kernel that writes the device clock at every phase boundary (made at the first call; the same
    /// arithmetic); <see cref="ReadDecodeLayerTimeline"/> reads the marks after the step's fence.</summary>
    public void RecordDecodeWithTimeline(CommandSequence seq)
    {
        if (!DecodeLayerTimelineAvailable)
            throw new InvalidOperationException($"no decode-layer timeline: decode is recorded as {DecodeLayout} on {_device.Info.Name}" +
                                                (_device.Info.ShaderDeviceClock ? "" : ", which has no device clock in shaders"));
        if (_decodeLayerTimeline is null)
        {
            var made = _newDecodeLayer!(_layers.Length);
            try
            {
                _device.WaitForPipelines();   // its compilation's failure surfaces here
            }
            catch
            {
                made.Kernel.Dispose();
                throw;
            }
            _decodeLayerTimeline = made;
        }
        RecordDecodeStep(seq, argmax: false, _decodeLayerTimeline);
    }

    /// <summary>The marks of the last step recorded by <see cref="RecordDecodeWithTimeline"/>.</summary>
    public DecodeLayerTimeline ReadDecodeLayerTimeline() =>
        (_decodeLayerTimeline?.Kernel ?? throw new InvalidOperationException("no decode step was recorded with the timeline")).ReadTimeline();

    /// <summary>Whether the last step recorded by <see cref="RecordDecodeWithTimeline"/> had a grid sync give up (its
    /// results are wrong); clears the flag.</summary>
    public bool TakeDecodeLayerTimelineFailure()
    {
        if (_decodeLayerTimeline is not var (kernel, _) || !kernel.Failed) return false;
        kernel.ClearFailure();
        return true;
    }

    /// <summary>
    /// Records the forward pass of <paramref name="n"/> tokens whose embeddings are already in X, at the cache positions
    /// that <see cref="SetPosition"/> gives. Logits land in rows 0.. of Logits (all n rows, or only the last token's).
    /// </summary>
    /// <param name="argmax">Also write the index of the largest logit of the last row to <see cref="Activations.Argmax"/>
    /// (greedy decoding reads back 8 bytes instead of the vocabulary's logits).</param>
    public void Record(CommandSequence seq, int n, LogitsMode logits, bool argmax = false) => Record(seq, n, logits, argmax, oneDispatchLayers: null, cpuLayers: false);

    /// <param name="oneDispatchLayers">run each layer as one dispatch of this decode-layer kernel with its per-layer
    /// bindings (n = 1; its sync counter zeroed before, <see cref="RecordDecode"/>).</param>
    /// <param name="cpuLayers">run each layer as one dispatch of the CPU decode-layer kernel (n = 1; its sync counter
    /// zeroed before, <see cref="RecordDecode"/>).</param>
    private void Record(CommandSequence seq, int n, LogitsMode logits, bool argmax, (DecodeLayerKernel Kernel, KernelBinding[] Bindings)? oneDispatchLayers, bool cpuLayers)
    {
        ArgumentNullException.ThrowIfNull(seq);
        int dim = _c.HiddenSize, ff = _c.IntermediateSize;
        float eps = _c.RmsNormEps;

        int perOpLayers = _layers.Length;
        if (oneDispatchLayers is var (layerKernel, layerBindings))
        {
            for (int d = 0; d < layerBindings.Length; d++)
            {
                layerKernel.Record(seq, layerBindings[d], d, _layers.Length);
                seq.ComputeBarrier();
            }
            perOpLayers = 0;
        }
        else if (cpuLayers)
        {
            // The first layer's attention norm (the others come from the W_down before them, inside the kernel).
            _rmsNorm.Record(seq, _layers[0].AttnNorm, 1, dim, eps);
            seq.ComputeBarrier();
            for (int l = 0; l < _layers.Length; l++)
            {
                _cpuLayer!.Record(seq, _cpuLayerBindings![l], l);
                seq.ComputeBarrier();
            }
            perOpLayers = 0;
        }
        for (int l = 0; l < perOpLayers; l++)
        {
            var L = _layers[l];
            // When only the last token's logits are asked for, the last layer needs every token's k and v (the cache) but
            // past them only the last token's row: attention, Wo and the feed-forward block run for that one token, as
            // llama.cpp does. m tokens go on from row `row` of X; attention and feed-forward scratch use rows 0.. .
            bool lastOnly = logits == LogitsMode.Last && n > 1 && l == _layers.Length - 1;
            int m = lastOnly ? 1 : n, row = lastOnly ? n - 1 : 0;

            // Attention block: x += Wo · attention(rope(Wq·norm(x)), cache ∪ rope(Wk·norm(x)), cache ∪ Wv·norm(x))
            // (the norm left out where the previous layer's one-token W_down wrote it)
            if (!L.AttnNormFused && !(n == 1 && l > 0 && _layers[l - 1].Down.NormsAfterInDecode))
            {
                _rmsNorm.Record(seq, L.AttnNorm, n, dim, eps);
                seq.ComputeBarrier();
            }
            foreach (var part in L.Qkv) Project(seq, part, n, accumulate: false);   // [n, q | k | v]
            seq.ComputeBarrier();
            if (L.RopeKvStore != null)
            {
                _ropeKvStore.Record(seq, L.RopeKvStore, n, _c.HeadCount, _c.KvHeadCount, _c.HeadDim, _qkvDim, _c.RopeTheta, _ropeLayout);  // q roped; k roped, v to the cache
                seq.ComputeBarrier();
            }
            _attention.Record(seq, L.Attention, m, _c.HeadCount, _c.KvHeadCount, _c.HeadDim, _qkvDim, firstQuery: row);
            seq.ComputeBarrier();
            Project(seq, L.O, m, accumulate: true, yRow: row);          // residual add fused
            seq.ComputeBarrier();

            // Feed-forward block: x += W_down · (silu(W_gate·norm(x)) * W_up·norm(x))
            if (!L.FfnNormFused && !(m == 1 && L.O.NormsAfterInDecode))   // a one-token Wo wrote it
            {
                _rmsNorm.Record(seq, L.FfnNorm, m, dim, eps, firstRow: row);
                seq.ComputeBarrier();
            }
            int normedRow = L.FfnNormFused ? row : 0;   // a fused norm reads X itself
            if (L.FfnGlu != null)
            {
                Project(seq, L.FfnGlu, m, accumulate: false, firstToken: normedRow);  // silu(gate) * up in the epilogue (and the rmsnorm, wide split-k)
            }
            else
            {
                Project(seq, L.Gate!, m, accumulate: false, firstToken: normedRow);
                Project(seq, L.Up!, m, accumulate: false, firstToken: normedRow);
                seq.ComputeBarrier();
                _swiGlu.Record(seq, L.SwiGlu!, m, ff);
            }
            seq.ComputeBarrier();
            Project(seq, L.Down, m, accumulate: true, yRow: row);       // residual add fused
            seq.ComputeBarrier();
        }

        // Head: logits = W_out · norm(x), for every token or only the last one.
        int first = logits == LogitsMode.All ? 0 : n - 1, rows = logits == LogitsMode.All ? n : 1;
        bool lastOneToken = n == 1 || logits == LogitsMode.Last;   // the last layer's W_down ran for one token, and wrote the norm
        if (!_outputNormFused && !(lastOneToken && _layers[^1].Down.NormsAfterInDecode))
        {
            _rmsNorm.Record(seq, _outputNorm, rows, dim, eps, firstRow: first);
            seq.ComputeBarrier();
        }
        Project(seq, _output, rows, accumulate: false, firstToken: _outputNormFused ? first : 0);
        if (argmax)
        {
            seq.ComputeBarrier();
            _argmax.Record(seq, _argmaxBinding, _c.VocabSize, rowOffset: (rows - 1) * _c.VocabSize);
        }
    }

    /// <summary>Y[yRow + t, rowOffset..] (+)= W X[firstToken + t] for t in 0..n-1.</summary>
    private static void Project(CommandSequence seq, MatrixBindings mb, int n, bool accumulate, int firstToken = 0, int yRow = 0)
    {
        var m = mb.Matrix;
        var kernel = n == 1 ? mb.DecodeKernel : mb.PrefillKernel;
        var bindings = n == 1 ? mb.Decode : mb.Prefill;
        for (int i = 0; i < m.Chunks.Count; i++)
        {
            var chunk = m.Chunks[i];
            kernel.Record(seq, bindings[i], chunk.RowCount, m.Cols, n,
                xOffset: firstToken * m.Cols, yOffset: yRow * mb.YStride, yStride: mb.YStride, rowOffset: mb.RowOffset + chunk.RowStart, accumulate);
        }
    }

    public void Dispose()
    {
        _decodeLayer?.Dispose();
        _decodeLayerTimeline?.Kernel.Dispose();
        _cpuLayer?.Dispose();
        _rmsNorm.Dispose(); _normCounter.Dispose(); _ropeKvStore.Dispose(); _attention.Dispose(); _swiGlu.Dispose(); _argmax.Dispose();
        foreach (var k in _matvec.Values) k.Dispose();
        foreach (var k in _matmul.Values) k.Dispose();
    }
}
