using Tipo.Inference.Benchmarks;
using Tipo.Models;
using Tipo.Models.Quantization;
using Tipo.Tests.Models;
using static Tipo.Tests.Quantization.QuantTestUtil;

namespace Tipo.Tests.Quantization;

/// <summary>The C# Q4_K / Q6_K quantisers against the existing dequantisers, and the Q4_K_M synthetic models.</summary>
public class KQuantizeTests : TempDirTest
{
    private static float[] Uniform(Random rng, int n, float amplitude)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = ((float)rng.NextDouble() * 2 - 1) * amplitude;
        return x;
    }

    private static float[] Gaussian(Random rng, int n, float sigma)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }

    private static float[] RoundTrip(GgmlType type, float[] x)
    {
        var q = new byte[GgmlTypeInfo.TensorBytes(type, x.Length)];
        if (type == GgmlType.Q4_K) KQuantize.Q4_K(x, q);
        else KQuantize.Q6_K(x, q);
        var y = new float[x.Length];
        Dequantize.ToFloat32(type, q, y, "t");
        return y;
    }

    [TestCase(GgmlType.Q4_K, 1e-2)]
    [TestCase(GgmlType.Q6_K, 1e-3)]
    public void RandomDataRoundTripsWithinNmse(GgmlType type, double limit)
    {
        var rng = new Random(42);
        foreach (var x in new[] { Uniform(rng, 64 * 256, 0.05f), Gaussian(rng, 64 * 256, 0.02f), Gaussian(rng, 64 * 256, 3f) })
        {
            double nmse = Nmse(RoundTrip(type, x), x);
            TestContext.Out.WriteLine($"{type}: NMSE {nmse:E2}");
            Assert.That(nmse, Is.LessThan(limit));
        }
    }

    [TestCase(GgmlType.Q4_K)]
    [TestCase(GgmlType.Q6_K)]
    public void SpecialBlocksRoundTrip(GgmlType type)
    {
        var zeros = new float[512];
        Assert.That(RoundTrip(type, zeros), Is.EqualTo(zeros));
        var positive = Uniform(new Random(7), 512, 1f).Select(MathF.Abs).ToArray();   // min 0: Q4_K needs no offset
        var negative = positive.Select(v => -v).ToArray();
        Assert.That(Nmse(RoundTrip(type, positive), positive), Is.LessThan(type == GgmlType.Q4_K ? 1e-2 : 1e-3));
        Assert.That(Nmse(RoundTrip(type, negative), negative), Is.LessThan(type == GgmlType.Q4_K ? 1e-2 : 1e-3));
        var constant = Enumerable.Repeat(0.25f, 256).ToArray();
        Assert.That(RoundTrip(type, constant), Is.EqualTo(constant).Within(1e-3f));
    }

    [Test]
    public void WrongLengthsThrow()
    {
        Assert.Throws<ArgumentException>(() => KQuantize.Q4_K(new float[255], new byte[144]));
        Assert.Throws<ArgumentException>(() => KQuantize.Q4_K(new float[256], new byte[145]));
        Assert.Throws<ArgumentException>(() => KQuantize.Q6_K(new float[512], new byte[210]));
    }

    /// <summary>
    /// Blocks whose values lie on the grid (each sub-block reaching both ends of its range, and the largest
    /// sub-block scale and min at 63) quantise back to the same bytes.
    /// </summary>
    [Test]
    public void Q4_K_OnGridBlocksAreReproducedExactly()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            var block = new byte[144];
            float d = RoundHalf(1e-3f + (float)rng.NextDouble() * 1e-3f), dmin = RoundHalf(1e-3f + (float)rng.NextDouble() * 1e-3f);
            PutHalf(block, 0, d);
            PutHalf(block, 2, dmin);
            int[] sc = new int[8], m = new int[8];
            for (int j = 0; j < 8; j++)
            {
                sc[j] = rng.Next(1, 64);
                m[j] = rng.Next(64);
            }
            sc[rng.Next(8)] = 63;
            m[rng.Next(8)] = 63;
            PackScaleMinK4(block, 4, sc, m);
            for (int i = 0; i < 256; i++)
            {
                int r = i % 32;
                int q = r == 0 ? 0 : r == 1 ? 15 : rng.Next(16);
                PutBits(block, 16 + 32 * (i / 64) + (i % 64) % 32, 4 * ((i % 64) / 32), 4, q);
            }
            var values = new float[256];
            KQuants.Q4_K(block, values);
            var again = new byte[144];
            KQuantize.Q4_K(values, again);
            Assert.That(again, Is.EqualTo(block), $"trial {trial}");
        }
    }

    [Test]
    public void Q6_K_OnGridBlocksAreReproducedExactly()
    {
        var rng = new Random(4);
        for (int trial = 0; trial < 50; trial++)
        {
            var block = new byte[210];
            float d = RoundHalf(1e-4f + (float)rng.NextDouble() * 1e-3f);
            PutHalf(block, 208, d);
            var sc = new int[16];
            for (int j = 0; j < 16; j++)
            {
                do sc[j] = rng.Next(-127, 128); while (sc[j] == 0);
            }
            sc[rng.Next(16)] = rng.Next(2) == 0 ? 127 : -127;
            for (int j = 0; j < 16; j++) block[192 + j] = (byte)(sbyte)sc[j];
            for (int i = 0; i < 256; i++)
            {
                int q = i % 16 == 0 ? 0 : rng.Next(64);   // each sub-block reaches -32, its largest magnitude
                int n = i / 128, g = (i % 128) / 32, l = i % 32;
                PutBits(block, 64 * n + l + (g % 2 == 1 ? 32 : 0), g >= 2 ? 4 : 0, 4, q & 15);
                PutBits(block, 128 + 32 * n + l, 2 * g, 2, q >> 4);
            }
            var values = new float[256];
            KQuants.Q6_K(block, values);
            var again = new byte[210];
            KQuantize.Q6_K(values, again);
            Assert.That(again, Is.EqualTo(block), $"trial {trial}");
        }
    }

    [Test]
    public void PackScaleMinK4InvertsScaleMinK4()
    {
        var rng = new Random(5);
        int[] sc = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray(), m = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
        var packed = new byte[12];
        KQuantize.PackScaleMinK4(packed, sc, m);
        for (int j = 0; j < 8; j++)
            Assert.That(KQuants.ScaleMinK4(j, packed), Is.EqualTo((sc[j], m[j])));
    }

    [Test]
    public void UseMoreBitsPicksHalfOfTipoLayers()
    {
        var picked = Enumerable.Range(0, 20).Where(l => SyntheticModels.UseMoreBits(l, 20)).ToArray();
        Assert.That(picked, Is.EqualTo(new[] { 0, 1, 4, 7, 10, 13, 16, 17, 18, 19 }));
    }

    [Test]
    public void Q4_K_M_SyntheticModelHasTheMixAndTheF16Weights()
    {
        var shape = new SyntheticShape("tiny", 256, 512, 8, 4, 4, 300, 64);
        string f16 = Path.Combine(Dir, "f16.gguf"), q = Path.Combine(Dir, "q4km.gguf");
        SyntheticModels.WriteGguf(shape, f16, seed: 9);
        SyntheticModels.WriteGguf(shape, q, seed: 9, weightType: SyntheticWeightType.Q4_K_M);
        using var a = GgufFile.Open(f16);
        using var b = GgufFile.Open(q);
        Assert.That(b.Tensors.Select(t => t.Name), Is.EqualTo(a.Tensors.Select(t => t.Name)));
        foreach (var tb in b.Tensors)
        {
            var ta = a.FindTensor(tb.Name)!;
            string n = tb.Name;
            GgmlType expected =
                n.Contains("norm") ? GgmlType.F32
                : n == "output.weight" ? GgmlType.Q6_K
                : (n.Contains("attn_v") || n.Contains("ffn_down")) && SyntheticModels.UseMoreBits(int.Parse(n.Split('.')[1]), 8) ? GgmlType.Q6_K
                : GgmlType.Q4_K;
            Assert.That(tb.Type, Is.EqualTo(expected), n);
            Assert.That(tb.ElementCount, Is.EqualTo(ta.ElementCount), n);
            if (tb.Type == GgmlType.F32) continue;
            var wa = new float[ta.ElementCount];
            var wb = new float[tb.ElementCount];
            Dequantize.ToFloat32(ta.Type, a.TensorBytes(ta), wa, n);
            Dequantize.ToFloat32(tb.Type, b.TensorBytes(tb), wb, n);
            Assert.That(Nmse(wb, wa), Is.LessThan(tb.Type == GgmlType.Q4_K ? 1e-2 : 1e-3), n);
        }
    }
}
