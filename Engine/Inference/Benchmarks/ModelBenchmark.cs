using System.Diagnostics;
using Tipo.Inference.Sampling;
using Tipo.Models;

namespace Tipo.Inference.Benchmarks;

/// <summary>One measured test, in llama-bench's terms (pp = prompt processing, tg = text generation).</summary>
/// <param name="SamplerMicrosecondsPerToken">A sampled decode test's mean host time in the sampler per token; null when the test did not sample.</param>
/// <param name="NDepth">Tokens already in the cache when the timed part starts (llama-bench's <c>-d</c>).</param>
/// <param name="FlopsPerToken">A prefill test's floating-point operations per prompt token (<see cref="ModelBenchmark.PrefillFlops"/>);
/// 0 for decode, which is bound by the weight reads (<see cref="BytesPerToken"/>).</param>
public sealed record BenchResult(string Test, int NPrompt, int NGen, double[] SamplesTokensPerSecond, long BytesPerToken,
    double? SamplerMicrosecondsPerToken = null, int NDepth = 0, double FlopsPerToken = 0)
{
    public double AvgTokensPerSecond => SamplesTokensPerSecond.Average();
    public double StdDevTokensPerSecond
    {
        get
        {
            if (SamplesTokensPerSecond.Length < 2) return 0;
            double m = AvgTokensPerSecond;
            return Math.Sqrt(SamplesTokensPerSecond.Sum(v => (v - m) * (v - m)) / (SamplesTokensPerSecond.Length - 1));
        }
    }
    /// <summary>Weight bytes read per second while decoding (0 for prefill).</summary>
    public double GigabytesPerSecond => NGen > 0 ? AvgTokensPerSecond * BytesPerToken / 1e9 : 0;

    /// <summary>Floating-point operations per second while prefilling, in GFLOP/s (0 for decode).</summary>
    public double GigaflopsPerSecond => AvgTokensPerSecond * FlopsPerToken / 1e9;
}

/// <summary>Measures prefill and decode speed of a loaded model, as llama-bench does.</summary>
public static class ModelBenchmark
{
    /// <summary>Prefill of <paramref name="nPrompt"/> tokens after <paramref name="depth"/> cached ones (untimed),
    /// <paramref name="repetitions"/> times (after one warm-up).</summary>
    public static BenchResult Prefill(LlamaModel model, int nPrompt, int repetitions, int depth = 0)
    {
        int[] tokens = RandomTokens(model, nPrompt);
        float[] logits = new float[model.VocabSize];
        var samples = new double[repetitions];
        for (int r = -1; r < repetitions; r++)
        {
            FillCache(model, depth, logits);
            var clock = Stopwatch.StartNew();
            model.Evaluate(tokens, LogitsMode.Last, logits);
            if (r >= 0) samples[r] = nPrompt / clock.Elapsed.TotalSeconds;
        }
        return new BenchResult($"pp{nPrompt}{AtDepth(depth)}", nPrompt, 0, samples, 0, NDepth: depth,
            FlopsPerToken: PrefillFlops(model.Config, nPrompt, depth) / nPrompt);
    }

    /// <summary>
    /// The floating-point operations (a multiply-add is two) a prefill of <paramref name="nPrompt"/> tokens after
    /// <paramref name="depth"/> cached ones must do to give the last token's logits, counting the matrix products only:
    /// every layer's Q, K and V projections and attention (scores and weighted values over each token's causal length)
    /// for every token; Wo and the feed-forward for every token in every layer but the last, where only the last token's
    /// are needed (the others feed nothing); the output projection for the last token.
    /// Norms, rope and softmax are left out (a few per cent of a token's arithmetic at TIPO's shapes).
    /// </summary>
    public static double PrefillFlops(LlamaConfig config, int nPrompt, int depth = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nPrompt);
        ArgumentOutOfRangeException.ThrowIfNegative(depth);
        double h = config.HiddenSize;
        double qkv = h * (config.QDim + 2.0 * config.KvDim);
        double rest = config.QDim * h + 3.0 * h * config.IntermediateSize;   // Wo, gate, up, down
        // Causal lengths depth + 1 .. depth + nPrompt: QK and PV each QDim multiply-adds per key.
        double keys = (double)nPrompt * depth + nPrompt * (nPrompt + 1.0) / 2;
        double attention = 2.0 * 2.0 * config.QDim * keys;
        int layers = config.LayerCount;
        return layers * (2 * qkv * nPrompt + attention) + (layers - 1) * 2 * rest * nPrompt + 2 * rest + 2 * h * config.VocabSize;
    }

    /// <summary>
    /// Decode of <paramref name="nGen"/> tokens one at a time from position max(1, <paramref name="depth"/>) (the cache
    /// first holds BOS and depth - 1 random tokens, untimed), <paramref name="repetitions"/> times. Each
    /// step reads back the logits. Without <paramref name="sampling"/> the tokens fed are fixed random ones, as in
    /// llama-bench; with it each token is chosen from the previous step's logits by a <see cref="Sampler"/> (seeded),
    /// as a generation does, and the sampler's host time is reported as well.
    /// </summary>
    public static BenchResult Decode(LlamaModel model, int nGen, int repetitions, SamplingOptions? sampling = null, int depth = 0)
    {
        int[] tokens = RandomTokens(model, nGen);
        float[] logits = new float[model.VocabSize];
        int[] one = new int[1];
        var history = new List<int>(nGen + 1);
        var samples = new double[repetitions];
        long samplerTicks = 0;
        // One sampler for every repetition: its buffers are sized in the untimed warm-up, so no timed call allocates.
        var sampler = sampling == null ? null : new Sampler(sampling, seed: 2);
        // As a generation does: from the GPU's best logits where the options allow (Generator.UsesGpuTopK).
        var decode = sampling == null ? null : new SampledDecode(model, sampling, logits);
        for (int r = -1; r < repetitions; r++)
        {
            history.Clear();
            history.AddRange(FillCache(model, Math.Max(1, depth), logits));
            decode?.RowFilled();
            long repetitionSamplerTicks = 0;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < nGen; i++)
            {
                if (sampler == null || decode == null)
                {
                    one[0] = tokens[i];
                    model.Evaluate(one, LogitsMode.Last, logits);
                    continue;
                }
                long start = Stopwatch.GetTimestamp();
                int next = decode.Choose(sampler, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
                repetitionSamplerTicks += Stopwatch.GetTimestamp() - start;
                history.Add(next);
                decode.Step(next);
            }
            if (r >= 0)
            {
                samples[r] = nGen / clock.Elapsed.TotalSeconds;
                samplerTicks += repetitionSamplerTicks;
            }
        }
        double? samplerMicroseconds = sampling == null
            ? null
            : samplerTicks * 1e6 / Stopwatch.Frequency / ((double)nGen * repetitions);
        return new BenchResult((sampling == null ? $"tg{nGen}" : $"tg{nGen} sampled") + AtDepth(depth), 0, nGen, samples, model.WeightBytes,
            samplerMicroseconds, depth);
    }

    /// <summary>llama-bench's test-name suffix for a depth: " @ d512".</summary>
    private static string AtDepth(int depth) => depth > 0 ? $" @ d{depth}" : "";

    /// <summary>Empties the cache and fills it with <paramref name="depth"/> tokens, BOS first then random ones; returns them.</summary>
    private static int[] FillCache(LlamaModel model, int depth, float[] logits)
    {
        model.ResetCache();
        if (depth == 0) return [];
        var rng = new Random(99);
        int[] prefix = new int[depth];
        prefix[0] = model.Config.BosTokenId;
        for (int i = 1; i < depth; i++) prefix[i] = rng.Next(3, model.VocabSize);
        model.Evaluate(prefix, LogitsMode.Last, logits);
        return prefix;
    }

    private static int[] RandomTokens(LlamaModel model, int n)
    {
        var rng = new Random(1234);
        return Enumerable.Range(0, n).Select(_ => rng.Next(3, model.VocabSize)).ToArray();
    }
}
