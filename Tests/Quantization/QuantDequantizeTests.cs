using Tipo.Errors;
using Tipo.Models;
using Tipo.Models.Quantization;
using static Tipo.Tests.Quantization.QuantTestUtil;

namespace Tipo.Tests.Quantization;

/// <summary>The C# reference dequantisers against hand-built blocks.</summary>
public class QuantDequantizeTests
{
    private static IEnumerable<GgmlType> Types => QuantBlockBuilder.AllTypes;

    [TestCaseSource(nameof(Types))]
    public void RandomBlocksDequantiseToTheirValues(GgmlType type)
    {
        var rng = new Random(1234 + (int)type);
        var (data, expected) = QuantBlockBuilder.Build(type, 5, rng);
        Assert.That(data, Has.Length.EqualTo(GgmlTypeInfo.TensorBytes(type, expected.Length)));
        var actual = new float[expected.Length];
        Dequantize.ToFloat32(type, data, actual, "t");
        Assert.That(actual, Is.EqualTo(expected)); // same float operations in the same order: bit-exact
    }

    [TestCaseSource(nameof(Types))]
    public void BlockSizesMatchGgml(GgmlType type)
    {
        var expected = new Dictionary<GgmlType, (int, int)>
        {
            [GgmlType.Q4_0] = (32, 18), [GgmlType.Q4_1] = (32, 20), [GgmlType.Q5_0] = (32, 22), [GgmlType.Q5_1] = (32, 24),
            [GgmlType.Q2_K] = (256, 84), [GgmlType.Q3_K] = (256, 110), [GgmlType.Q4_K] = (256, 144),
            [GgmlType.Q5_K] = (256, 176), [GgmlType.Q6_K] = (256, 210),
        };
        Assert.That((GgmlTypeInfo.BlockSize(type), GgmlTypeInfo.BlockBytes(type)), Is.EqualTo(expected[type]));
    }

    [TestCaseSource(nameof(Types))]
    public void WrongLengthsThrow(GgmlType type)
    {
        int be = GgmlTypeInfo.BlockSize(type), bb = GgmlTypeInfo.BlockBytes(type);
        Assert.Throws<ArgumentException>(() => Dequantize.ToFloat32(type, new byte[bb], new float[be + 1]));
        Assert.Throws<ArgumentException>(() => Dequantize.ToFloat32(type, new byte[bb + 1], new float[be]));
        Assert.Throws<ArgumentException>(() => Dequantize.ToFloat32(type, new byte[bb], new float[2 * be]));
    }

    [Test]
    public void UnsupportedTypeNamesTensorAndType()
    {
        var e = Assert.Throws<UnsupportedFeatureException>(() => Dequantize.ToFloat32(GgmlType.IQ2_XXS, new byte[66], new float[256], "blk.0.attn_q.weight"));
        Assert.That(e!.Message, Does.Contain("blk.0.attn_q.weight").And.Contain("IQ2_XXS"));
    }

    [Test]
    public void Q4_0_NibblesAndOffset()
    {
        var x = new byte[18];
        PutHalf(x, 0, 0.5f);
        x[2] = 0x3A;  // element 0: 0xA, element 16: 0x3
        x[17] = 0xF0; // element 15: 0, element 31: 15
        var y = new float[32];
        LegacyQuants.Q4_0(x, y);
        Assert.That((y[0], y[16], y[15], y[31], y[1]), Is.EqualTo((1f, -2.5f, -4f, 3.5f, -4f)));
    }

    [Test]
    public void Q4_1_ScaleAndMin()
    {
        var x = new byte[20];
        PutHalf(x, 0, 0.25f);
        PutHalf(x, 2, -1f);
        x[4] = 0xF1;
        var y = new float[32];
        LegacyQuants.Q4_1(x, y);
        Assert.That((y[0], y[16], y[1]), Is.EqualTo((-0.75f, 2.75f, -1f)));
    }

    [Test]
    public void Q5_0_HighBits()
    {
        var x = new byte[22];
        PutHalf(x, 0, 1f);
        // qh bit 0 -> element 0, bit 16 -> element 16, bit 31 -> element 31
        x[2] = 0x01; x[4] = 0x01; x[5] = 0x80;
        x[6] = 0x21; // element 0 low 1, element 16 low 2
        var y = new float[32];
        LegacyQuants.Q5_0(x, y);
        Assert.That((y[0], y[16], y[31], y[1], y[15]), Is.EqualTo((1f, 2f, 0f, -16f, -16f)));
    }

    [Test]
    public void Q5_1_HighBitsAndMin()
    {
        var x = new byte[24];
        PutHalf(x, 0, 2f);
        PutHalf(x, 2, 0.5f);
        x[4] = 0x02; // element 1 high bit
        x[9] = 0xF3; // element 1: low 3, element 17: 15
        var y = new float[32];
        LegacyQuants.Q5_1(x, y);
        Assert.That((y[1], y[17], y[0]), Is.EqualTo((2f * 19 + 0.5f, 2f * 15 + 0.5f, 0.5f)));
    }

    [Test]
    public void ScaleMinK4Packing()
    {
        // bytes 0-3: scales 0-3 (low 6 bits) + top bits of scales 4-7; bytes 4-7: mins 0-3 + top bits of mins 4-7;
        // bytes 8-11: low nibble scale 4-7, high nibble min 4-7.
        byte[] q = { 0b11_000001, 2, 3, 63, 0b01_000100, 5, 6, 0b10_000111, 0xA9, 0x00, 0x00, 0x5F };
        Assert.Multiple(() =>
        {
            Assert.That(KQuants.ScaleMinK4(0, q), Is.EqualTo((1, 4)));
            Assert.That(KQuants.ScaleMinK4(3, q), Is.EqualTo((63, 7)));
            Assert.That(KQuants.ScaleMinK4(4, q), Is.EqualTo((0x9 | (3 << 4), 0xA | (1 << 4))));
            Assert.That(KQuants.ScaleMinK4(5, q), Is.EqualTo((0, 0)));
            Assert.That(KQuants.ScaleMinK4(7, q), Is.EqualTo((0xF | (0 << 4), 0x5 | (2 << 4))));
        });
    }

    [Test]
    public void ScaleMinK4RoundTripsAllValues()
    {
        var rng = new Random(7);
        for (int t = 0; t < 200; t++)
        {
            var sc = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
            var mn = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
            var b = new byte[12];
            PackScaleMinK4(b, 0, sc, mn);
            for (int j = 0; j < 8; j++)
                Assert.That(KQuants.ScaleMinK4(j, b), Is.EqualTo((sc[j], mn[j])));
        }
    }

    /// <summary>Q3_K scales, unpacked the way ggml does (four 32-bit words with masks), against <see cref="KQuants.ScaleQ3K"/>.</summary>
    [Test]
    public void Q3_K_ScalesMatchWordwiseUnpacking()
    {
        var rng = new Random(3);
        for (int t = 0; t < 200; t++)
        {
            var s = new byte[12];
            rng.NextBytes(s);
            var aux = new uint[4];
            for (int w = 0; w < 3; w++) aux[w] = BitConverter.ToUInt32(s, 4 * w);
            const uint m1 = 0x03030303, m2 = 0x0f0f0f0f;
            uint tmp = aux[2];
            aux[2] = ((aux[0] >> 4) & m2) | (((tmp >> 4) & m1) << 4);
            aux[3] = ((aux[1] >> 4) & m2) | (((tmp >> 6) & m1) << 4);
            aux[0] = (aux[0] & m2) | (((tmp >> 0) & m1) << 4);
            aux[1] = (aux[1] & m2) | (((tmp >> 2) & m1) << 4);
            for (int i = 0; i < 16; i++)
                Assert.That(KQuants.ScaleQ3K(i, s), Is.EqualTo((int)((aux[i / 4] >> (8 * (i % 4))) & 0xFF)));
        }
    }

    [Test]
    public void Q2_K_ScaleMinNibbles()
    {
        var x = new byte[84];
        PutHalf(x, 80, 0.5f);  // d
        PutHalf(x, 82, 0.25f); // dmin
        x[0] = 0x32;           // sub-block 0: scale 2, min 3
        x[16] = 0b11_10_01_11; // element 0 (shift 0) = 3, element 32 = 1, element 64 = 2, element 96 = 3
        x[3] = 0x01;           // sub-block 3 (elements 48-63): scale 1, min 0
        var y = new float[256];
        KQuants.Q2_K(x, y);
        Assert.That((y[0], y[1], y[32], y[48], y[49]), Is.EqualTo((0.5f * 2 * 3 - 0.75f, -0.75f, 0f, 0f, 0f)));
    }

    [Test]
    public void Q3_K_HighBitMeansNoOffset()
    {
        var x = new byte[110];
        PutHalf(x, 108, 1f);
        var sc = Enumerable.Repeat(33, 16).ToArray(); // scale 33 - 32 = 1
        sc[15] = 0;                                    // scale -32
        PackScalesQ3K(x, 96, sc);
        x[0] = 0x01;   // hmask bit 0 of byte 0: element 0 has its high bit
        x[32] = 0x03;  // element 0 low bits 3 -> 3; element 1 (no high bit) low bits 0 -> -4
        x[32 + 31 + 32] = 0xC0; // element 255: low bits 3, no high bit -> -1, scale -32 -> 32
        var y = new float[256];
        KQuants.Q3_K(x, y);
        Assert.That((y[0], y[1], y[255]), Is.EqualTo((3f, -4f, 32f)));
    }

    [Test]
    public void Q4_K_SubBlocksUseTheirScaleAndMin()
    {
        var x = new byte[144];
        PutHalf(x, 0, 1f);
        PutHalf(x, 2, 0.5f);
        var sc = new[] { 1, 2, 3, 4, 17, 33, 49, 63 };
        var mn = new[] { 0, 1, 2, 3, 20, 40, 60, 62 };
        PackScaleMinK4(x, 4, sc, mn);
        for (int i = 16; i < 144; i++) x[i] = 0x21; // low nibble 1, high nibble 2
        var y = new float[256];
        KQuants.Q4_K(x, y);
        for (int s = 0; s < 8; s++)
        {
            int q = s % 2 == 0 ? 1 : 2; // even sub-blocks are the low nibbles of a 32-byte group
            Assert.That(y[32 * s + 5], Is.EqualTo(1f * sc[s] * q - 0.5f * mn[s]), $"sub-block {s}");
        }
    }

    [Test]
    public void Q5_K_FifthBit()
    {
        var x = new byte[176];
        PutHalf(x, 0, 1f);
        PutHalf(x, 2, 0f);
        PackScaleMinK4(x, 4, Enumerable.Repeat(1, 8).ToArray(), new int[8]);
        x[16 + 3] = 0b1000_0001; // element 3 (sub-block 0) and element 224 + 3 (sub-block 7) get +16
        x[48 + 3] = 0x52;        // element 3: low 2; element 32 + 3: 5
        x[48 + 96 + 3] = 0x70;   // element 192 + 3: 0; element 224 + 3: 7
        var y = new float[256];
        KQuants.Q5_K(x, y);
        Assert.That((y[3], y[35], y[195], y[227]), Is.EqualTo((18f, 5f, 0f, 23f)));
    }

    [Test]
    public void Q6_K_HighBitsSignedScalesAndOffset()
    {
        var x = new byte[210];
        PutHalf(x, 208, 2f);
        for (int s = 0; s < 16; s++) x[192 + s] = (byte)(sbyte)(s % 2 == 0 ? -3 : 5);
        x[0] = 0xF1;            // element 0 low 1, element 64 low 15
        x[128] = 0b11_00_10_01; // element 0 high 1 (q = 17), element 32 high 2 (q = 32), element 64 high 0, element 96 high 3 (q = 48)
        x[128 + 32 + 17] = 0x3; // element 128 + 17 high 3 (q = 48), sub-block 9 (scale 5)
        var y = new float[256];
        KQuants.Q6_K(x, y);
        Assert.That((y[0], y[32], y[64], y[96], y[145]),
            Is.EqualTo((2f * -3 * (17 - 32), 0f, 2f * -3 * (15 - 32), 2f * -3 * (48 - 32), 2f * 5 * (48 - 32))));
    }
}
