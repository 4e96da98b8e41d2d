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
/// The LLaMA forward pass, recorded into one command buffer per call: for n new tokens at positions
/// pos0..pos0+n-1 it appends their K/V to the cache and leaves logits in <see cref="Activations.Logits"/>.
/// Prefill (n &gt; 1) runs the weight products as matrix-matrix kernels that reuse each weight tile across
/// a block of tokens; decode (n = 1) runs them as matrix-vector kernels. Every descriptor set is written once,
/// at construction.
/// </summary>
public sealed class ForwardPass : IDisposable
{
    private const int PrefillTokensPerWorkgroup = 8;

    private readonly LlamaConfig _c;
    private readonly RopeLayout _ropeLayout;
    private readonly LlamaWeights _w;
    private readonly KvCache _cache;
    private readonly Activations _a;

    private readonly RmsNormKernel _rmsNorm;
    private readonly RopeKernel _rope;
    private readonly AttentionKernel _attention;
    private readonly SwiGluKernel _swiGlu;
    private readonly KvStoreKernel _kvStore;
    private readonly ArgmaxKernel _argmax;
    private readonly KernelBinding _argmaxBinding;
    private readonly VulkanDevice _device;
    // Matmul kernels by weight type and layout (rows-per-lane on CPU devices where the shape allows, else split-k).
    private readonly Dictionary<(GgmlType, MatmulLayout), MatmulKernel> _matvec = [];   // decode: 1 token per workgroup
    private readonly Dictionary<(GgmlType, MatmulLayout), MatmulKernel> _matmul = [];   // prefill: a block of tokens per workgroup

    private readonly LayerBindings[] _layers;
    private readonly KernelBinding _outputNorm;
    private readonly MatrixBindings _output;

    /// <summary>One weight matrix bound to its input and output, for each of the two kernels.</summary>
    private sealed record MatrixBindings(GpuMatrix Matrix, MatmulKernel DecodeKernel, KernelBinding[] Decode, MatmulKernel PrefillKernel, KernelBinding[] Prefill);

    private sealed record LayerBindings(
        KernelBinding AttnNorm, MatrixBindings Q, MatrixBindings K, MatrixBindings V,
        KernelBinding RopeQ, KernelBinding RopeK, KernelBinding StoreK, KernelBinding StoreV,
        KernelBinding Attention, MatrixBindings O,
        KernelBinding FfnNorm, MatrixBindings Gate, MatrixBindings Up, KernelBinding SwiGlu, MatrixBindings Down);

    public ForwardPass(VulkanDevice device, LlamaConfig config, RopeLayout ropeLayout, LlamaWeights weights, KvCache cache, Activations activations)
    {
        _device = device;
        _c = config; _ropeLayout = ropeLayout; _w = weights; _cache = cache; _a = activations;
        if (config.RopeDimensionCount != 0 && config.RopeDimensionCount != config.HeadDim)
            throw new Errors.UnsupportedFeatureException($"partial rotary embeddings (rope dimension {config.RopeDimensionCount} of head_dim {config.HeadDim}) are not supported");
        bool f16Cache = cache.Type == KvCacheType.F16;
        _rmsNorm = new RmsNormKernel(device);
        _rope = new RopeKernel(device);
        _attention = new AttentionKernel(device, f16Cache ? MatrixType.F16 : MatrixType.F32);
        _swiGlu = new SwiGluKernel(device);
        _kvStore = new KvStoreKernel(device, f16Cache);
        _argmax = new ArgmaxKernel(device);

        var a = activations;
        _layers = new LayerBindings[config.LayerCount];
        for (int l = 0; l < config.LayerCount; l++)
        {
            var lw = weights.Layers[l];
            _layers[l] = new LayerBindings(
                AttnNorm: _rmsNorm.Bind(a.X, lw.AttnNorm, a.XNorm),
                Q: BindMatrix(lw.Q, a.XNorm, a.Q), K: BindMatrix(lw.K, a.XNorm, a.K), V: BindMatrix(lw.V, a.XNorm, a.V),
                RopeQ: _rope.Bind(a.Q), RopeK: _rope.Bind(a.K),
                StoreK: _kvStore.Bind(a.K, cache.Keys(l)), StoreV: _kvStore.Bind(a.V, cache.Values(l)),
                Attention: _attention.Bind(a.Q, cache.Keys(l), cache.Values(l), a.Attention),
                O: BindMatrix(lw.O, a.Attention, a.X),
                FfnNorm: _rmsNorm.Bind(a.X, lw.FfnNorm, a.XNorm),
                Gate: BindMatrix(lw.Gate, a.XNorm, a.Gate), Up: BindMatrix(lw.Up, a.XNorm, a.Up),
                SwiGlu: _swiGlu.Bind(a.Gate, a.Up, a.Gate),
                Down: BindMatrix(lw.Down, a.Gate, a.X));
        }
        _outputNorm = _rmsNorm.Bind(a.X, weights.OutputNorm, a.XNorm);
        _output = BindMatrix(weights.Output, a.XNorm, a.Logits);
        _argmaxBinding = _argmax.Bind(a.Logits, a.Argmax);
    }

    /// <summary>Binds a matrix to its input and output for the decode and the prefill kernel of its type.</summary>
    private MatrixBindings BindMatrix(GpuMatrix m, GpuBuffer x, GpuBuffer y)
    {
        var key = (m.Type, MatmulKernel.LayoutFor(_device, m.Type, m.Cols));
        if (!_matvec.TryGetValue(key, out var decode))
        {
            _matvec[key] = decode = new MatmulKernel(_device, m.Type, 1, layout: key.Item2);
            _matmul[key] = new MatmulKernel(_device, m.Type, PrefillTokensPerWorkgroup, layout: key.Item2);
        }
        var prefill = _matmul[key];
        return new(m, decode, m.Chunks.Select(ch => decode.Bind(ch.Buffer, x, y)).ToArray(),
            prefill, m.Chunks.Select(ch => prefill.Bind(ch.Buffer, x, y)).ToArray());
    }

    /// <summary>
    /// Records the forward pass of <paramref name="n"/> tokens whose embeddings are already in X, at cache
    /// positions <paramref name="pos0"/>.. . Logits land in rows 0.. of Logits (all n rows, or only the last token's).
    /// </summary>
    /// <param name="argmax">Also write the index of the largest logit of the last row to <see cref="Activations.Argmax"/>
    /// (greedy decoding reads back 8 bytes instead of the vocabulary's logits).</param>
    public void Record(CommandSequence seq, int n, int pos0, LogitsMode logits, bool argmax = false)
    {
        int dim = _c.HiddenSize, kvDim = _c.KvHeadCount * _c.HeadDim, ff = _c.IntermediateSize;
        float eps = _c.RmsNormEps;

        foreach (var L in _layers)
        {
            // Attention block: x += Wo · attention(rope(Wq·norm(x)), cache ∪ rope(Wk·norm(x)), cache ∪ Wv·norm(x))
            _rmsNorm.Record(seq, L.AttnNorm, n, dim, eps);
            seq.Barrier();
            Project(seq, L.Q, n, accumulate: false);
            Project(seq, L.K, n, accumulate: false);
            Project(seq, L.V, n, accumulate: false);
            seq.Barrier();
            _rope.Record(seq, L.RopeQ, n, _c.HeadCount, _c.HeadDim, pos0, _c.RopeTheta, _ropeLayout);
            _rope.Record(seq, L.RopeK, n, _c.KvHeadCount, _c.HeadDim, pos0, _c.RopeTheta, _ropeLayout);
            seq.Barrier();
            _kvStore.Record(seq, L.StoreK, kvDim, n, pos0);
            _kvStore.Record(seq, L.StoreV, kvDim, n, pos0);
            seq.Barrier();
            _attention.Record(seq, L.Attention, n, _c.HeadCount, _c.KvHeadCount, _c.HeadDim, pos0);
            seq.Barrier();
            Project(seq, L.O, n, accumulate: true);          // residual add fused
            seq.Barrier();

            // Feed-forward block: x += W_down · (silu(W_gate·norm(x)) * W_up·norm(x))
            _rmsNorm.Record(seq, L.FfnNorm, n, dim, eps);
            seq.Barrier();
            Project(seq, L.Gate, n, accumulate: false);
            Project(seq, L.Up, n, accumulate: false);
            seq.Barrier();
            _swiGlu.Record(seq, L.SwiGlu, n, ff);
            seq.Barrier();
            Project(seq, L.Down, n, accumulate: true);       // residual add fused
            seq.Barrier();
        }

        // Head: logits = W_out · norm(x), for every token or only the last one.
        _rmsNorm.Record(seq, _outputNorm, n, dim, eps);
        seq.Barrier();
        if (logits == LogitsMode.All)
            Project(seq, _output, n, accumulate: false);
        else
            Project(seq, _output, 1, accumulate: false, firstToken: n - 1);
        if (argmax)
        {
            seq.Barrier();
            _argmax.Record(seq, _argmaxBinding, _c.VocabSize, rowOffset: logits == LogitsMode.All ? (n - 1) * _c.VocabSize : 0);
        }
    }

    /// <summary>Y[t] (+)= W X[t] for tokens firstToken..firstToken+n-1 of X, written to rows 0..n-1 of Y.</summary>
    private void Project(CommandSequence seq, MatrixBindings mb, int n, bool accumulate, int firstToken = 0)
    {
        var m = mb.Matrix;
        var kernel = n == 1 ? mb.DecodeKernel : mb.PrefillKernel;
        var bindings = n == 1 ? mb.Decode : mb.Prefill;
        for (int i = 0; i < m.Chunks.Count; i++)
        {
            var chunk = m.Chunks[i];
            kernel.Record(seq, bindings[i], chunk.RowCount, m.Cols, n,
                xOffset: firstToken * m.Cols, yOffset: 0, yStride: m.Rows, rowOffset: chunk.RowStart, accumulate);
        }
    }

    public void Dispose()
    {
        _rmsNorm.Dispose(); _rope.Dispose(); _attention.Dispose(); _swiGlu.Dispose(); _kvStore.Dispose(); _argmax.Dispose();
        foreach (var k in _matvec.Values) k.Dispose();
        foreach (var k in _matmul.Values) k.Dispose();
    }
}
