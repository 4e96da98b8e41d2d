using System.Diagnostics;

namespace Tipo.Inference.Benchmarks;

/// <summary>One measured test, in llama-bench's terms (pp = prompt processing, tg = text generation).</summary>
public sealed record BenchResult(string Test, int NPrompt, int NGen, double[] SamplesTokensPerSecond, long BytesPerToken)
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

    /// <summary>Decode of <paramref name="nGen"/> tokens one at a time from position 1, <paramref name="repetitions"/> times.</summary>
    public static BenchResult Decode(LlamaModel model, int nGen, int repetitions)
    {
        int[] tokens = RandomTokens(model, nGen);
        float[] logits = new float[model.VocabSize];
        int[] one = new int[1];
        var samples = new double[repetitions];
        for (int r = -1; r < repetitions; r++)
        {
            model.ResetCache();
            one[0] = model.Config.BosTokenId;
            model.Evaluate(one, LogitsMode.Last, logits);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < nGen; i++)
            {
                one[0] = tokens[i];
                model.Evaluate(one, LogitsMode.Last, logits);
            }
            if (r >= 0) samples[r] = nGen / clock.Elapsed.TotalSeconds;
        }
        return new BenchResult($"tg{nGen}", 0, nGen, samples, model.WeightBytes);
    }

    private static int[] RandomTokens(LlamaModel model, int n)
    {
        var rng = new Random(1234);
        return Enumerable.Range(0, n).Select(_ => rng.Next(3, model.VocabSize)).ToArray();
    }
}
