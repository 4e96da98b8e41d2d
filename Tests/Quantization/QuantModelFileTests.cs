using Tipo.Models;

namespace Tipo.Tests.Quantization;

/// <summary>Dequantises every tensor of the real k-quant files under ../shared/models.</summary>
public class QuantModelFileTests
{
    [TestCase("models/tipo-small-q4_k_m.gguf")]
    [TestCase("models/tipo-small-q6_k.gguf")]
    public void EveryTensorDequantisesToFiniteSensibleValues(string file)
    {
        using var m = LlamaModelFile.Open(TestData.Shared(file));
        var types = new SortedSet<string>();
        foreach (var t in m.Tensors)
        {
            types.Add(t.Type.ToString());
            Assert.That(t.IsSupportedForCompute, Is.True, t.ToString());
            var v = t.ToFloat32();
            Assert.That(v, Has.Length.EqualTo(t.ElementCount));
            double sumSq = 0, maxAbs = 0;
            long nonFinite = 0;
            foreach (float x in v)
            {
                if (!float.IsFinite(x)) nonFinite++;
                sumSq += (double)x * x;
                maxAbs = Math.Max(maxAbs, Math.Abs(x));
            }
            Assert.That(nonFinite, Is.Zero, $"{t}: non-finite values");
            double rms = Math.Sqrt(sumSq / v.Length);
            TestContext.Out.WriteLine($"{t}: rms {rms:G4}, max |x| {maxAbs:G4}");
            Assert.That(rms, Is.GreaterThan(1e-3).And.LessThan(10), t.ToString());
            Assert.That(maxAbs, Is.LessThan(100), t.ToString());
        }
        TestContext.Out.WriteLine($"types: {string.Join(", ", types)}");
        Assert.That(types, Does.Contain(file.Contains("q4_k_m") ? "Q4_K" : "Q6_K"));
    }

    /// <summary>
    /// Both files quantise the same weights: a tensor dequantised from Q4_K/Q6_K in one file must be close to
    /// the same tensor from the Q6_K file (a wrong layout would give unrelated values, NMSE near 1 or above).
    /// </summary>
    [Test]
    public void TheTwoQuantisationsAgree()
    {
        using var a = LlamaModelFile.Open(TestData.Shared("models/tipo-small-q4_k_m.gguf"));
        using var b = LlamaModelFile.Open(TestData.Shared("models/tipo-small-q6_k.gguf"));
        int compared = 0;
        foreach (var ta in a.Tensors)
        {
            var tb = b.Get(ta.Name);
            if (ta.Type == tb.Type && ta.Type == GgmlType.F32)
                continue;
            double nmse = QuantTestUtil.Nmse(ta.ToFloat32(), tb.ToFloat32());
            TestContext.Out.WriteLine($"{ta.Name}: {ta.Type} vs {tb.Type}: NMSE {nmse:G3}");
            // 4-bit k-quants give an NMSE of about 1e-2 on Gaussian weights, 6-bit about 1e-3; both files share the error of neither.
            Assert.That(nmse, Is.LessThan(ta.Type == tb.Type ? 1e-9 : 1e-2), ta.Name);
            compared++;
        }
        Assert.That(compared, Is.GreaterThan(5));
    }
}
