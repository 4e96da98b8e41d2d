using System.Diagnostics;
using Tipo.Inference.Sampling;

namespace Tipo.Inference.Benchmarks;

/// <summary>One measured test, in llama-bench's terms (pp = prompt processing, tg = text generation).</summary>
/// <param name="SamplerMicrosecondsPerToken">A sampled decode test's mean host time in the sampler per token; null when the test did not sample.</param>
public sealed record BenchResult(string Test, int NPrompt, int NGen, double[] SamplesTokensPerSecond, long BytesPerToken,
    double? SamplerMicrosecondsPerToken = null)
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
}

/// <summary>Measures prefill and decode speed of a loaded model, as llama-bench does.</summary>
public static class ModelBenchmark
{
    /// <summary>Prefill of <paramref name="nPrompt"/> tokens from an empty cache, <paramref name="repetitions"/> times (after one warm-up).</summary>
    public static BenchResult Prefill(LlamaModel model, int nPrompt, int repetitions)
    {
        int[] tokens = RandomTokens(model, nPrompt);
        float[] logits = new float[model.VocabSize];
        var samples = new double[repetitions];
        for (int r = -1; r < repetitions; r++)
        {
            model.ResetCache();
            var clock = Stopwatch.StartNew();
            model.Evaluate(tokens, LogitsMode.Last, logits);
            if (r >= 0) samples[r] = nPrompt / clock.Elapsed.TotalSeconds;
        }
        return new BenchResult($"pp{nPrompt}", nPrompt, 0, samples, 0);
    }

    /// <summary>
    /// Decode of <paramref name="nGen"/> tokens one at a time from position 1, <paramref name="repetitions"/> times. Each
    /// step reads back the logits. Without <paramref name="sampling"/> the tokens fed are fixed random ones, as in
    /// llama-bench; with it each token is chosen from the previous step's logits by a <see cref="Sampler"/> (seeded),
    /// as a generation does, and the sampler's host time is reported as well.
    /// </summary>
    public static BenchResult Decode(LlamaModel model, int nGen, int repetitions, SamplingOptions? sampling = null)
    {
        int[] tokens = RandomTokens(model, nGen);
        float[] logits = new float[model.VocabSize];
        int[] one = new int[1];
        var history = new List<int>(nGen + 1);
        var samples = new double[repetitions];
        long samplerTicks = 0;
        // One sampler for every repetition: its buffers are sized in the untimed warm-up, so no timed call allocates.
        var sampler = sampling == null ? null : new Sampler(sampling, seed: 2);
        for (int r = -1; r < repetitions; r++)
        {
            model.ResetCache();
            history.Clear();
            one[0] = model.Config.BosTokenId;
            history.Add(one[0]);
            model.Evaluate(one, LogitsMode.Last, logits);
            long repetitionSamplerTicks = 0;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < nGen; i++)
            {
                if (sampler == null)
                {
                    one[0] = tokens[i];
                }
                else
                {
                    long start = Stopwatch.GetTimestamp();
                    one[0] = sampler.Sample(logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
                    repetitionSamplerTicks += Stopwatch.GetTimestamp() - start;
                    history.Add(one[0]);
                }
                model.Evaluate(one, LogitsMode.Last, logits);
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
        return new BenchResult(sampling == null ? $"tg{nGen}" : $"tg{nGen} sampled", 0, nGen, samples, model.WeightBytes, samplerMicroseconds);
    }

    private static int[] RandomTokens(LlamaModel model, int n)
    {
        var rng = new Random(1234);
        return Enumerable.Range(0, n).Select(_ => rng.Next(3, model.VocabSize)).ToArray();
    }
}
