using Tipo.Expansion;
using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Inference.Sampling;
using Tipo.Tests.Vulkan;
using Tipo.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// The GPU top-k (Shaders/topk.comp, <see cref="TopKKernel"/>) against a sort on the host, and sampled generation from
/// its candidates against sampling from the whole row: the same tokens for the same seed.
/// </summary>
public class GpuTopKTests : GpuTest
{
    /// <summary>Logits with ties, both zeros, -infinity and a few very large values.</summary>
    private static float[] AwkwardLogits(int n, int seed)
    {
        var rng = new Random(seed);
        var l = new float[n];
        for (int i = 0; i < n; i++)
        {
            l[i] = (rng.Next(8)) switch
            {
                0 => MathF.Round((float)rng.NextDouble() * 8f - 4f),   // many exact ties
                1 => i % 2 == 0 ? 0f : -0f,
                2 => float.NegativeInfinity,
                _ => (float)(rng.NextDouble() * 20 - 10),
            };
        }
        l[rng.Next(n)] = 3e38f;
        l[rng.Next(n)] = -3e38f;
        return l;
    }

    [TestCase(32013, 1)]   // TIPO's vocabulary: 16 blocks, then one merge
    [TestCase(100, 2)]     // fewer tokens than candidates
    [TestCase(512, 3)]     // stories260K's: one block
    [TestCase(70001, 4)]   // 35 blocks, two merges
    public void TopK_EqualsAHostSort(int vocab, int seed)
    {
        float[] logits = AwkwardLogits(vocab, seed);
        using var buffer = new GpuBuffer(Device, 4L * vocab + 64, "logits");
        buffer.Upload<float>(logits);
        using var k = new TopKKernel(Device, buffer, vocab);
        using (var seq = new CommandSequence(Device))
        {
            seq.Begin();
            k.Record(seq);
            seq.End();
            seq.Submit();
        }
        int[] ids = new int[TopKKernel.Capacity];
        float[] values = new float[TopKKernel.Capacity];
        int count = k.Read(ids, values);

        // Descending logit (-0 equal to +0), ties by ascending id: the sampler's order.
        int[] expected = Enumerable.Range(0, vocab).OrderByDescending(i => logits[i] == 0f ? 0f : logits[i]).ThenBy(i => i)
            .Take(TopKKernel.Capacity).ToArray();
        Assert.That(count, Is.EqualTo(Math.Min(vocab, TopKKernel.Capacity)));
        Assert.That(ids.Take(count), Is.EqualTo(expected));
        Assert.That(values.Take(count), Is.EqualTo(expected.Select(i => logits[i] == 0f ? 0f : logits[i])));
        Assert.That(k.PassCount, Is.EqualTo(vocab switch { <= 2048 => 1, <= 16384 => 2, <= 131072 => 3, _ => 4 }));
    }

    [Test]
    public void CandidatesNeeded_CoverTheTopKAndWhatThePenaltyMayDrop()
    {
        Assert.That(Generator.CandidatesNeeded(TipoDefaults.Sampling), Is.EqualTo(TipoDefaults.Sampling.TopK + TipoDefaults.Sampling.RepeatLastN));
        Assert.That(Generator.CandidatesNeeded(new SamplingOptions { TopK = 40, RepeatPenalty = 1f }), Is.EqualTo(40));
        Assert.That(Generator.CandidatesNeeded(new SamplingOptions { TopK = 0 }), Is.Zero, "top-k off: the whole row");
        Assert.That(Generator.CandidatesNeeded(new SamplingOptions { TopK = 40, RepeatPenalty = 0.9f }), Is.Zero, "a penalty below 1 raises logits");
        Assert.That(Generator.CandidatesNeeded(new SamplingOptions { TopK = 40, RepeatPenalty = 1.1f, RepeatLastN = -1 }), Is.Zero, "the whole history");
        Assert.That(Generator.CandidatesNeeded(new SamplingOptions { Temperature = 0f, RepeatPenalty = 1.3f, RepeatLastN = 64 }), Is.EqualTo(65));
    }

    [Test]
    public void GpuTopK_IsOffOnCpuDevicesByDefault_AndSaysSoWhenAskedFor()
    {
        using var llm = LlamaModel.Load(Device, TestData.Shared("models/stories260K.gguf"), new InferenceOptions { ContextLength = 64 });
        Assert.That(llm.GpuTopK, Is.EqualTo(Device.Info.Kind != DeviceKind.Cpu && TopKKernel.Fits(Device)));
        if (llm.GpuTopK) return;
        Assert.That(Generator.UsesGpuTopK(llm, TipoDefaults.Sampling), Is.False);
        var e = Assert.Throws<InvalidOperationException>(() => llm.EvaluateTopK(1, new int[TopKKernel.Capacity], new float[TopKKernel.Capacity]));
        Assert.That(e!.Message, Does.Contain("GpuTopK"));
    }

    private static IEnumerable<TestCaseData> Generations()
    {
        yield return new TestCaseData("models/tipo-tiny-f16.gguf", TipoDefaults.Sampling).SetName("TipoSettings_TipoTiny");
        yield return new TestCaseData("models/stories260K.gguf", TipoDefaults.Sampling).SetName("TipoSettings_Stories");
        yield return new TestCaseData("models/stories260K.gguf", new SamplingOptions { Temperature = 1.5f, TopK = 200, TopP = 1f, MinP = 0f, RepeatPenalty = 1.5f, RepeatLastN = 8 })
            .SetName("HotAndPenalised_Stories");
        yield return new TestCaseData("models/tipo-tiny-f16.gguf", new SamplingOptions { Temperature = 0f, RepeatPenalty = 1.3f, RepeatLastN = 16 })
            .SetName("GreedyWithPenalty_TipoTiny");
    }

    [TestCaseSource(nameof(Generations))]
    public void SampledGeneration_FromGpuCandidates_EqualsTheWholeRow(string model, SamplingOptions options)
    {
        IReadOnlyList<int> Generate(bool gpuTopK)
        {
            using var llm = LlamaModel.Load(Device, TestData.Shared(model), new InferenceOptions { GpuTopK = gpuTopK, ContextLength = 256, KvCacheType = KvCacheType.F32 });
            Assert.That(Generator.UsesGpuTopK(llm, options), Is.EqualTo(gpuTopK));
            return new Generator(llm).Generate([1, 20, 30, 40], 48, options, seed: 7, stopAtEos: false).Tokens;
        }
        var fromRow = Generate(gpuTopK: false);
        var fromCandidates = Generate(gpuTopK: true);
        Assert.That(fromCandidates, Is.EqualTo(fromRow));
        Assert.That(fromRow.Distinct().Count(), Is.GreaterThan(3), "a generation that samples, not one repeated token");
    }
}
