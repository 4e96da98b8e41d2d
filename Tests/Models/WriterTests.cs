using Tipo.Models;

namespace Tipo.Tests.Models;

public class WriterTests : TempDirTest
{
    [TestCase(GgmlType.F32)]
    [TestCase(GgmlType.F16)]
    [TestCase(GgmlType.BF16)]
    [TestCase(GgmlType.Q8_0)]
    public void RandomLlamaGgufLoads(GgmlType type)
    {
        var config = new LlamaConfig(64, 96, 2, 4, 2, 16, 40, 1e-6f, 500000f, false, 256, 1, 2, 16, Name: "bench");
        string p = Path.Combine(Dir, "rand.gguf");
        LlamaGgufWriter.WriteRandom(p, config, type, seed: 3, extraMetadata: w => w.Add("tokenizer.ggml.tokens", Enumerable.Range(0, 40).Select(i => $"t{i}").ToArray()));
        using var m = LlamaModelFile.Open(p);
        Assert.That(m.Config with { PadTokenId = null }, Is.EqualTo(config));
        var q = m.Get("blk.1.attn_q.weight");
        Assert.That(q.Type, Is.EqualTo(type));
        var x = q.ToFloat32();
        Assert.That(x.All(v => MathF.Abs(v) <= 0.0201f));
        Assert.That(x.Count(v => v != 0), Is.GreaterThan(x.Length / 2));
        Assert.That(m.Get("output_norm.weight").ToFloat32(), Is.All.EqualTo(1f));
    }

    [Test]
    public void Q8_0RoundTripIsWithinHalfAStep()
    {
        var x = SyntheticLlama.Random(256, 5);
        var q = Quantize.FromFloat32(GgmlType.Q8_0, x);
        var y = new float[256];
        Dequantize.Q8_0(q, y);
        for (int b = 0; b < 8; b++)
        {
            float amax = x.Skip(b * 32).Take(32).Max(MathF.Abs);
            for (int i = b * 32; i < b * 32 + 32; i++)
                Assert.That(y[i], Is.EqualTo(x[i]).Within(amax / 127f * 0.51f + 1e-3f * amax));
        }
    }

    [Test]
    public void BFloat16Rounding()
    {
        Assert.That(Dequantize.BFloat16ToFloat(Quantize.FloatToBFloat16(1f)), Is.EqualTo(1f));
        Assert.That(Dequantize.BFloat16ToFloat(Quantize.FloatToBFloat16(1.00390625f)), Is.EqualTo(1f)); // tie rounds to even
        Assert.That(float.IsNaN(Dequantize.BFloat16ToFloat(Quantize.FloatToBFloat16(float.NaN))));
    }

    [Test]
    public void WriterRejectsWrongDataLength()
    {
        var w = new GgufWriter().AddTensor("t", GgmlType.F32, [4], new byte[12]);
        Assert.Throws<InvalidOperationException>(() => w.Write(new MemoryStream()));
    }
}
