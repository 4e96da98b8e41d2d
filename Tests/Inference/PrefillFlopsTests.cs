using Tipo.Inference.Benchmarks;
using Tipo.Models;

namespace Tipo.Tests.Inference;

/// <summary>The FLOP count the bench divides prefill time into (<see cref="ModelBenchmark.PrefillFlops"/>), against a
/// count made token by token and layer by layer.</summary>
public class PrefillFlopsTests
{
    [TestCase(1, 0)]
    [TestCase(3, 0)]
    [TestCase(7, 5)]
    public void PrefillFlopsCountsEveryProductATokenNeeds(int nPrompt, int depth)
    {
        // hidden 64, ff 96, 3 layers, 4 heads over 2 KV heads of 16, vocab 40
        var c = new LlamaConfig(64, 96, 3, 4, 2, 16, 40, 1e-6f, 10000f, false, 256, 1, 2, 16);
        double macs = 0;
        for (int layer = 0; layer < c.LayerCount; layer++)
            for (int t = 0; t < nPrompt; t++)
            {
                macs += 64 * (64 + 32 + 32);                        // q, k, v
                macs += 2 * 64 * (depth + t + 1);                   // q.k and p.v over the causal length, 4 heads of 16
                bool needed = layer < c.LayerCount - 1 || t == nPrompt - 1;
                if (needed) macs += 64 * 64 + 3 * 64 * 96;          // Wo, gate, up, down
            }
        macs += 64 * 40;                                            // the output projection of the last token
        Assert.That(ModelBenchmark.PrefillFlops(c, nPrompt, depth), Is.EqualTo(2 * macs));
    }

    [Test]
    public void PrefillFlopsRejectsAnEmptyPrompt()
    {
        var c = new LlamaConfig(64, 96, 3, 4, 2, 16, 40, 1e-6f, 10000f, false, 256, 1, 2, 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelBenchmark.PrefillFlops(c, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelBenchmark.PrefillFlops(c, 4, -1));
    }
}
