using Tipo.Errors;
using Tipo.Inference.Kernels;
using Tipo.Models;
using Tipo.Text;
using Tipo.Vulkan;

namespace Tipo.Inference;

/// <summary>
/// A LLaMA model loaded on a Vulkan device: weights, KV cache, activations and the forward pass, plus its
/// tokenizer. Holds one sequence: <see cref="CachedTokens"/> are the tokens whose K/V the cache holds, so a
/// new prompt that shares a prefix with them only costs its new tokens. Not thread-safe: one caller at a time.
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private readonly VulkanDevice _device;
    private readonly bool _ownsDevice;
    private readonly LlamaModelFile _file;
    private readonly LlamaWeights _weights;
    private readonly KvCache _cache;
    private readonly Activations _activations;
    internal Activations Activations => _activations;   // the tests read the residual stream
    internal LlamaWeights Weights => _weights;           // the tests check how the matrices are stored
    private readonly ForwardPass _forward;
    private readonly EmbeddingTable _embedding;
    private readonly CommandSequence _sequence;        // prefill: recorded per chunk
    private CommandSequence? _decodeLogits;            // one decode step leaving the last logits: recorded on first use, replayed
    private CommandSequence? _decodeArgmax;            // one decode step leaving the greedy choice: recorded on first use, replayed
    private CommandSequence? _decodeTopK;              // one decode step leaving the best logits (TopKKernel): recorded on first use, replayed
    private TopKKernel? _topK;                         // made on first use
    private readonly float[] _embeddingRows;   // [maxTokens, dim] host staging for X
    private readonly List<int> _cachedTokens = [];

    public LlamaConfig Config => _file.Config;
    private readonly Task<LlamaTokenizer> _tokenizer;   // built on a worker thread while the weights upload
    /// <summary>The model's tokenizer, built on a worker thread from the start of the load; a file without a usable one
    /// (the synthetic benchmark GGUFs) throws here, on first use.</summary>
    public LlamaTokenizer Tokenizer => _tokenizer.GetAwaiter().GetResult();
    /// <summary>Parameters in the model file.</summary>
    public long ParameterCount => _file.ParameterCount;
    public string ModelPath => _file.Path;
    public DeviceInfo Device => _device.Info;
    /// <summary>True when the device is llvmpipe running on the submitting thread (see <see cref="PrefersInlineCpuDriver"/>).</summary>
    public bool CpuDriverInline => _device.CpuDriverInline;
    /// <summary>The Vulkan device the model runs on (for benchmarks on the same device).</summary>
    internal VulkanDevice VulkanDevice => _device;
    public int ContextLength => _cache.ContextLength;
    public KvCacheType KvCacheType => _cache.Type;
    public int VocabSize => Config.VocabSize;
    /// <summary>Whether <see cref="EvaluateTopK"/> runs here (<see cref="InferenceOptions.GpuTopK"/>, and a device that can).</summary>
    public bool GpuTopK { get; }
    /// <summary>Bytes of GPU weights read by one decode step.</summary>
    public long WeightBytes => _weights.GpuBytes;
    /// <summary>What the matmuls run as on this device, for reports (<c>tipo bench</c>): the kernel family and the choices
    /// made for its driver (the rows-per-lane kernels' fetch lag and shared X, the quantised types stored as F16), read from
    /// the kernels built (<see cref="ForwardPass.MatmulChoices"/>).</summary>
    public string MatmulChoices { get; }
    /// <summary>How decode steps are recorded: one dispatch per layer (its grid) or per-op dispatches (ForwardPass.DecodeLayout).</summary>
    public string DecodeLayout => _forward.DecodeLayout + (DecodeLayerFellBack ? " (after the one-dispatch layers' grid sync gave up)" : "");
    /// <summary>Bytes of the model file's tensors as stored there (llama-bench's model size); <see cref="WeightBytes"/>
    /// differs where the device keeps them otherwise (quantised types widened to F16 on CPU devices, the token embedding
    /// on the host).</summary>
    public long FileTensorBytes => _file.TotalBytes;
    /// <summary>Tokens whose keys and values are in the cache, in order from position 0.</summary>
    public IReadOnlyList<int> CachedTokens => _cachedTokens;

    private LlamaModel(VulkanDevice device, bool ownsDevice, LlamaModelFile file, InferenceOptions options)
    {
        _device = device; _ownsDevice = ownsDevice; _file = file;
        if (Kernels.MatmulKernel.WrongResultsOn(device.Info) is { } wrong)
            throw new Errors.UnsupportedFeatureException(wrong);
        var c = file.Config;
        int ctx = options.ContextLength > 0 ? options.ContextLength : c.MaxPositionEmbeddings;
        GpuTopK = (options.GpuTopK ?? device.Info.Kind != DeviceKind.Cpu) && TopKKernel.Fits(device);
        // Like llama.cpp, a context longer than the training context is allowed (stories260K's GGUF says 128
        // while the model was trained on 512); quality past the training length is the caller's business.
        if (ctx <= 0) throw new ArgumentException($"context length must be positive, not {ctx}", nameof(options));
        int maxTokens = Math.Clamp(options.MaxBatchTokens, 1, ctx);
        // The tokenizer takes ~0.25 s to build (32k pieces, and its library's first JIT): it is built beside the upload, so a
        // prompt can be tokenized as soon as the model is loaded. A file without a usable tokenizer throws on first use.
        _tokenizer = Task.Run(() => file.Gguf != null
            ? TokenizerLoader.FromGguf(file.Gguf)
            : LlamaTokenizer.FromHuggingFaceDirectory(file.HuggingFaceDirectory!));
        var disposables = new List<IDisposable>();
        try
        {
            _embedding = new EmbeddingTable(file.Get("token_embd.weight"));
            // CPU kernels run gate and up as one SwiGLU matmul over the two interleaved by the kernel's lane count, and read
            // their matrices in row tiles.
            bool rowsLayout = Kernels.KernelSets.UseCpuKernels(device, options.Kernels);
            int gluBlockRows = rowsLayout ? Kernels.MatmulKernel.RowsLayoutLanes(device) : 0;
            // Their QKV matmul ropes rotate-half pairs, which lie in one lane: GGUF's interleaved Q/K rows are reordered to them.
            bool qkToRotateHalf = rowsLayout && file.RopeLayout == RopeLayout.Interleaved &&
                                  Kernels.MatmulKernel.RowsRopeFits(device, c.HeadDim, options.KvCacheType == KvCacheType.F16);
            // Their matmuls read F32, F16 and Q8_0 only: the other quantised types are kept as F16 there (dequantised at
            // upload), where that fits the device's memory; else they keep their blocks and run the slower split-k kernels.
            // Q8_0 too where the driver compiles its kernel into one slower than F16's.
            QuantsAsF16 quantsAsF16 = !rowsLayout || !QuantsAsF16Fits(file, device.Info.LargestHeapBytes) ? QuantsAsF16.None
                : Kernels.MatmulKernel.Q8_0RowsSlowerThanF16(device.Info) ? QuantsAsF16.All : QuantsAsF16.AllButQ8_0;
            _weights = Track(LlamaWeights.Upload(device, file, gluBlockRows, rowTiles: rowsLayout, qkToRotateHalf: qkToRotateHalf, quantsAsF16: quantsAsF16));
            _cache = Track(new KvCache(device, c.LayerCount, ctx, c.KvHeadCount * c.HeadDim, options.KvCacheType));
            _activations = Track(new Activations(device, c, maxTokens));
            _forward = Track(new ForwardPass(device, c, qkToRotateHalf ? RopeLayout.RotateHalf : file.RopeLayout, _weights, _cache, _activations, options.Kernels,
                Kernels.DecodeLayerKernel.WorkgroupsFor(device, c, options.DecodeWorkgroups), options.DecodeAttentionChunkKeys,
                Kernels.DecodeLayerCpuKernel.WorkgroupsFor(device, c, options.CpuDecodeWorkgroups), options.RowsPrefillTokens));
            MatmulChoices = _forward.MatmulChoices + ", quantised matrices as F16: " +
                quantsAsF16 switch { QuantsAsF16.All => "all", QuantsAsF16.AllButQ8_0 => "all but Q8_0", _ => "none" };
            _sequence = Track(new CommandSequence(device));
            _embeddingRows = new float[maxTokens * c.HiddenSize];
        }
        catch
        {
            for (int i = disposables.Count - 1; i >= 0; i--) disposables[i].Dispose();
            Task.WhenAny(_tokenizer).Wait();   // it reads the file, which the caller disposes next
            throw;
        }

        T Track<T>(T d) where T : IDisposable { disposables.Add(d); return d; }
    }

    /// <summary>Loads a model file (GGUF or Hugging Face directory) onto a device the caller owns.</summary>
    public static LlamaModel Load(VulkanDevice device, string path, InferenceOptions? options = null)
    {
        var file = LlamaModelFile.Open(path);
        try
        {
            return new LlamaModel(device, ownsDevice: false, file, options ?? new InferenceOptions());
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Opens the device named by <see cref="InferenceOptions.Device"/> and loads the model on it.</summary>
    public static LlamaModel Load(string path, InferenceOptions? options = null)
    {
        options ??= new InferenceOptions();
        var file = LlamaModelFile.Open(path);
        try
        {
            var device = VulkanDevice.Open(options.Device, inlineCpuDriver: PrefersInlineCpuDriver(file.Config, file.TotalBytes));
            try
            {
                return new LlamaModel(device, ownsDevice: true, file, options);
            }
            catch
            {
                device.Dispose();
                throw;
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether the GPU matrices of <paramref name="file"/>, all as F16 (the token embedding stays on the host unless it is
    /// the output matrix too), take at most three quarters of <paramref name="heapBytes"/>, the device's largest
    /// heap (<see cref="DeviceInfo.LargestHeapBytes"/>; lavapipe reports 2 GiB, TIPO-500M's F16 matrices are ~1 GB).
    /// </summary>
    internal static bool QuantsAsF16Fits(LlamaModelFile file, ulong heapBytes)
    {
        bool tied = !file.Has("output.weight");
        long f16Bytes = file.Tensors
            .Where(t => t.Shape.Length == 2 && (tied || t.Name != "token_embd.weight"))
            .Sum(t => 2 * t.Shape[0] * t.Shape[1]);
        return (ulong)f16Bytes <= heapBytes / 4 * 3;
    }

    /// <summary>
    /// Whether a CPU Vulkan driver (llvmpipe) should run this model on the submitting thread rather than its thread pool.
    /// A decode step with the CPU kernels is 7 or 8 dispatches per layer (8 where the rope has its own) and 3 for the
    /// head; llvmpipe's pool costs ~25 µs per dispatch against ~2.5 µs inline (measured here), while one thread reads ~3 GB/s of weights and a second one at best halves that time. The pool pays
    /// only when half the one-thread time exceeds the extra dispatch cost: compute(1 thread) &gt; 2 × dispatches × 22.5 µs.
    /// stories260K (1 MB, 5 layers) runs inline; TIPO-200M (340 MB, 20 layers) on the pool.
    /// </summary>
    internal static bool PrefersInlineCpuDriver(LlamaConfig config, long weightBytes)
    {
        const double oneThreadBytesPerSecond = 3e9, extraSecondsPerDispatch = 22.5e-6;
        int dispatches = 8 * config.LayerCount + 3;
        return weightBytes / oneThreadBytesPerSecond < 2 * dispatches * extraSecondsPerDispatch;
    }

    /// <summary>Forgets the cached sequence (the next call starts at position 0).</summary>
    public void ResetCache() => _cachedTokens.Clear();

    /// <summary>
    /// Runs <paramref name="tokens"/> through the model at positions CachedTokens.Count.. and appends them to
    /// the cache. Writes the logits of the last token ([vocab]) or of every token ([n, vocab]) to
    /// <paramref name="logits"/>. Long inputs are processed in prefill chunks.
    /// </summary>
    public void Evaluate(ReadOnlySpan<int> tokens, LogitsMode mode, Span<float> logits)
    {
        int n = tokens.Length;
        if (n == 0) throw new ArgumentException("no tokens to evaluate", nameof(tokens));
        CheckRoomFor(n);
        int vocab = VocabSize;
        int need = mode == LogitsMode.All ? n * vocab : vocab;
        if (logits.Length < need) throw new ArgumentException($"logits span holds {logits.Length} floats, needs {need}", nameof(logits));

        // All-rows logits are limited by the logits buffer; last-row mode by the activations.
        int chunkMax = mode == LogitsMode.All ? Math.Min(_activations.MaxTokens, _activations.LogitRows) : _activations.MaxTokens;
        for (int start = 0; start < n; start += chunkMax)
        {
            int count = Math.Min(chunkMax, n - start);
            bool lastChunk = start + count == n;
            RunChunk(tokens.Slice(start, count), _cachedTokens.Count, mode);
            if (mode == LogitsMode.All)
                _activations.Logits.Download(logits.Slice(start * vocab, count * vocab));
            else if (lastChunk)
                _activations.Logits.Download(logits[..vocab]);
            foreach (int t in tokens.Slice(start, count)) _cachedTokens.Add(t);
        }
    }

    /// <summary>
    /// Makes the cache hold exactly <paramref name="prompt"/>, reusing the longest prefix it already holds,
    /// and writes the last prompt token's logits. Returns how many tokens were actually evaluated.
    /// </summary>
    public int EvaluatePrompt(IReadOnlyList<int> prompt, Span<float> lastLogits)
    {
        if (prompt.Count == 0) throw new ArgumentException("empty prompt", nameof(prompt));
        int common = 0;
        while (common < prompt.Count && common < _cachedTokens.Count && _cachedTokens[common] == prompt[common]) common++;
        if (common == prompt.Count) common--;   // re-evaluate the last token to get its logits
        _cachedTokens.RemoveRange(common, _cachedTokens.Count - common);
        int[] rest = prompt.Skip(common).ToArray();
        Evaluate(rest, LogitsMode.Last, lastLogits);
        return rest.Length;
    }

    /// <summary>
    /// Runs one token at position CachedTokens.Count and returns the most likely next token, chosen on the GPU
    /// (greedy decoding: no logits are read back).
    /// </summary>
    public int EvaluateGreedy(int token)
    {
        CheckRoomFor(1);
        RunChunk([token], _cachedTokens.Count, LogitsMode.Last, DecodeOutput.Argmax);
        _cachedTokens.Add(token);
        Span<uint> result = stackalloc uint[1];
        _activations.Argmax.Download(result);
        return (int)result[0];
    }

    /// <summary>
    /// Runs one token at position CachedTokens.Count and writes the best <see cref="TopKKernel.Capacity"/> logits of
    /// the next token (fewer for a smaller vocabulary) and their ids, best first (ties: lower id), chosen on the GPU
    /// (<see cref="GpuTopK"/>): the host reads 2 KiB instead of the whole row. Returns how many it wrote.
    /// </summary>
    public int EvaluateTopK(int token, Span<int> ids, Span<float> logits)
    {
        if (!GpuTopK)
            throw new InvalidOperationException($"the GPU top-k is off for this model on {_device.Info.Name} (InferenceOptions.GpuTopK)");
        CheckRoomFor(1);
        _topK ??= new TopKKernel(_device, new BufferRange(_activations.Logits, 0, 4L * VocabSize), VocabSize);
        RunChunk([token], _cachedTokens.Count, LogitsMode.Last, DecodeOutput.TopK);
        _cachedTokens.Add(token);
        return _topK.Read(ids, logits);
    }

    /// <summary>
    /// GPU time of one decode step of <paramref name="token"/> by shader, with a timestamp after every dispatch (a
    /// profile, not a benchmark: the timestamps serialise the dispatches). The token is appended to the cache.
    /// </summary>
    public IReadOnlyList<(string Shader, double Milliseconds)> ProfileDecodeStep(int token) => ProfileStep([token]);

    /// <summary>
    /// GPU time by shader of one pass over <paramref name="tokens"/> (the decode recording for one token, the prefill
    /// pass with the last row of logits for more), with a timestamp after every dispatch. The tokens are appended to
    /// the cache.
    /// </summary>
    public IReadOnlyList<(string Shader, double Milliseconds)> ProfileStep(ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length;
        int maxBatch = _embeddingRows.Length / Config.HiddenSize;
        if (n == 0 || n > maxBatch)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"a profiled pass takes 1 to {maxBatch} tokens (the batch size), got {n}");
        CheckRoomFor(n);
        if (n == 1) StageDecodeInput(tokens[0], _cachedTokens.Count);
        else StagePrefillInput(tokens, _cachedTokens.Count);
        using var profiler = new DispatchProfiler(_device, 16 * Config.LayerCount + 16);   // a pass records fewer than 16 a layer
        using var seq = new CommandSequence(_device) { Profiler = profiler };
        seq.Begin();
        if (n == 1) _forward.RecordDecode(seq, argmax: false);
        else _forward.Record(seq, n, LogitsMode.Last);
        seq.End();
        seq.Submit();
        if (n == 1 && RecoveredFromDecodeLayerFailure())
            return ProfileStep(tokens);
        _cachedTokens.AddRange(tokens);
        return profiler.Read();
    }

    /// <summary>Whether <see cref="ProfileDecodeLayerPhases"/> can run: decode runs as one dispatch per layer on a device
    /// whose shaders can read its clock.</summary>
    public bool CanProfileDecodeLayerPhases => _forward.DecodeLayerTimelineAvailable;

    /// <summary>
    /// Where one decode step of <paramref name="token"/> spends its time inside the one-dispatch decode layers: the device
    /// clock at every phase boundary of every workgroup (a variant of the kernel that writes them; a profile, not a
    /// benchmark). The token is appended to the cache. Throws <see cref="InvalidOperationException"/> where
    /// <see cref="CanProfileDecodeLayerPhases"/> is false, or where that variant's grid syncs gave up (the step is then
    /// rerun as usual, so the cache stays right).
    /// </summary>
    public DecodeLayerTimeline ProfileDecodeLayerPhases(int token)
    {
        if (!CanProfileDecodeLayerPhases)
            throw new InvalidOperationException($"no decode-layer phase timeline on {_device.Info.Name}: decode is recorded as {DecodeLayout}" +
                                                (_device.Info.ShaderDeviceClock ? "" : " and shaders cannot read the device clock (VK_KHR_shader_clock)"));
        CheckRoomFor(1);
        int pos = _cachedTokens.Count;
        StageDecodeInput(token, pos);
        using (var seq = new CommandSequence(_device))
        {
            seq.Begin();
            _forward.RecordDecodeWithTimeline(seq);
            seq.End();
            seq.Submit();
        }
        if (_forward.TakeDecodeLayerTimelineFailure())
        {
            RunChunk([token], pos, LogitsMode.Last);
            _cachedTokens.Add(token);
            throw new InvalidOperationException($"the decode layer's timeline variant did not run all {_forward.DecodeLayerWorkgroups} workgroups at once on {_device.Info.Name} (a grid sync gave up); the step was rerun without it");
        }
        _cachedTokens.Add(token);
        return _forward.ReadDecodeLayerTimeline();
    }

    private void CheckRoomFor(int n)
    {
        if (_cachedTokens.Count + n > ContextLength)
            throw new ContextOverflowException($"{_cachedTokens.Count} cached + {n} new tokens exceed the context length {ContextLength}");
    }

    /// <summary>The inputs a recorded decode step reads: the token's embedding and its position.</summary>
    private void StageDecodeInput(int token, int pos)
    {
        var row = _embeddingRows.AsSpan(0, Config.HiddenSize);
        _embedding.Lookup(token, row);
        _activations.DecodeInput.Upload<float>(row);
        _forward.SetPosition(pos);
    }

    /// <summary>The inputs a prefill pass reads: the tokens' embeddings in X and the position of the first.</summary>
    private void StagePrefillInput(ReadOnlySpan<int> tokens, int pos0)
    {
        int dim = Config.HiddenSize;
        var rows = _embeddingRows.AsSpan(0, tokens.Length * dim);
        for (int t = 0; t < tokens.Length; t++) _embedding.Lookup(tokens[t], rows.Slice(t * dim, dim));
        _forward.SetPosition(pos0);
        _activations.X.Upload<float>(rows);
    }

    /// <summary>What a decode step leaves for the host: the logits row, the GPU's argmax, or its top-k.</summary>
    private enum DecodeOutput { Logits, Argmax, TopK }

    private void RunChunk(ReadOnlySpan<int> tokens, int pos0, LogitsMode mode, DecodeOutput output = DecodeOutput.Logits)
    {
        bool argmax = output == DecodeOutput.Argmax;
        int n = tokens.Length, dim = Config.HiddenSize;
        if (n == 1)
        {
            // Decode: replay the step recorded once; only the embedding row and the position change.
            StageDecodeInput(tokens[0], pos0);
            ref CommandSequence? step = ref output == DecodeOutput.Argmax ? ref _decodeArgmax
                : ref output == DecodeOutput.TopK ? ref _decodeTopK : ref _decodeLogits;
            if (step == null)
            {
                var recorded = new CommandSequence(_device);
                try
                {
                    recorded.Begin();
                    _forward.RecordDecode(recorded, argmax);
                    if (output == DecodeOutput.TopK) _topK!.Record(recorded);
                    recorded.End();
                }
                catch
                {
                    recorded.Dispose();
                    throw;
                }
                step = recorded;
            }
            step.Submit();
            if (RecoveredFromDecodeLayerFailure())
                RunChunk(tokens, pos0, mode, output);
            return;
        }

        StagePrefillInput(tokens, pos0);
        _sequence.Begin();
        _forward.Record(_sequence, n, mode, argmax);
        _sequence.End();
        _sequence.Submit();
    }

    /// <summary>After a decode step: if it ran the one-dispatch layers and one of their grid syncs gave up (the GPU did not
    /// run all their workgroups at once; the step's results are wrong), switches decode to per-op dispatches for good and
    /// drops the recorded steps, so the caller reruns the step. Returns whether it did.</summary>
    private bool RecoveredFromDecodeLayerFailure()
    {
        if (!_forward.DecodeLayerFailed) return false;
        _forward.StopDecodeLayer();
        _decodeLogits?.Dispose(); _decodeLogits = null;
        _decodeArgmax?.Dispose(); _decodeArgmax = null;
        _decodeTopK?.Dispose(); _decodeTopK = null;
        DecodeLayerFellBack = true;
        return true;
    }

    /// <summary>Makes the next decode step look as if a grid sync of its one-dispatch layers gave up (tests of the rerun).</summary>
    internal void RaiseDecodeLayerFailureForTests() => _forward.RaiseDecodeLayerFailureForTests();

    /// <summary>True once a decode step's one-dispatch layers failed to sync and decode went back to per-op dispatches.</summary>
    public bool DecodeLayerFellBack { get; private set; }

    public void Dispose()
    {
        _sequence.Dispose();
        _decodeLogits?.Dispose();
        _decodeArgmax?.Dispose();
        _decodeTopK?.Dispose();
        _topK?.Dispose();
        _forward.Dispose();
        _activations.Dispose();
        _cache.Dispose();
        _weights.Dispose();
        Task.WhenAny(_tokenizer).Wait();   // it reads the file
        _file.Dispose();
        if (_ownsDevice) _device.Dispose();
    }
}
