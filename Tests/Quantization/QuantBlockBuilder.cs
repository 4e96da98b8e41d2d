using Tipo.Models;
using static Tipo.Tests.Quantization.QuantTestUtil;

namespace Tipo.Tests.Quantization;

/// <summary>
/// Builds random quantised blocks of a type from chosen integer quants, scales and mins, placing each element's
/// bits by its index (the layout as documented by ggml), and the values they stand for, computed with the
/// formula of the type (independently of the dequantisers' loops).
/// </summary>
internal static class QuantBlockBuilder
{
    public static readonly GgmlType[] AllTypes =
    {
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    };

    /// <summary>A random scale in [lo, hi), rounded to f16.</summary>
    private static float Scale(Random rng, float lo, float hi) => RoundHalf(lo + (float)rng.NextDouble() * (hi - lo));

    public static (byte[] Data, float[] Values) Build(GgmlType type, int blocks, Random rng)
    {
        int be = GgmlTypeInfo.BlockSize(type), bb = GgmlTypeInfo.BlockBytes(type);
        var data = new byte[blocks * bb];
        var values = new float[blocks * be];
        for (int b = 0; b < blocks; b++)
        {
            var blk = new byte[bb];
            var y = new float[be];
            BuildOne(type, blk, y, rng);
            blk.CopyTo(data, b * bb);
            y.CopyTo(values, b * be);
        }
        return (data, values);
    }

    private static void BuildOne(GgmlType type, byte[] x, float[] y, Random rng)
    {
        switch (type)
        {
            case GgmlType.Q8_0:
            {
                // An f16 scale, then 32 int8 quants (not in AllTypes: its kernels read the blocks as they are).
                float d = Scale(rng, -0.05f, 0.05f);
                PutHalf(x, 0, d);
                for (int i = 0; i < 32; i++)
                {
                    int q = rng.Next(-128, 128);
                    x[2 + i] = (byte)(sbyte)q;
                    y[i] = q * d;
                }
                break;
            }
            case GgmlType.Q4_0:
            case GgmlType.Q4_1:
            case GgmlType.Q5_0:
            case GgmlType.Q5_1:
            {
                bool five = type is GgmlType.Q5_0 or GgmlType.Q5_1;
                bool hasMin = type is GgmlType.Q4_1 or GgmlType.Q5_1;
                float d = Scale(rng, -0.05f, 0.05f);
                float m = hasMin ? Scale(rng, -0.5f, 0.5f) : 0;
                PutHalf(x, 0, d);
                if (hasMin) PutHalf(x, 2, m);
                int qh = hasMin ? 4 : 2;
                int qs = qh + (five ? 4 : 0);
                for (int i = 0; i < 32; i++)
                {
                    int q = rng.Next(five ? 32 : 16);
                    PutBits(x, qs + i % 16, 4 * (i / 16), 4, q & 15);
                    if (five) PutBits(x, qh + i / 8, i % 8, 1, q >> 4);
                    int offset = hasMin ? 0 : (five ? 16 : 8);
                    y[i] = hasMin ? q * d + m : (q - offset) * d;
                }
                break;
            }
            case GgmlType.Q2_K:
            {
                float d = Scale(rng, 0, 0.01f), dmin = Scale(rng, 0, 0.01f);
                PutHalf(x, 80, d);
                PutHalf(x, 82, dmin);
                var sc = new int[16];
                var mn = new int[16];
                for (int s = 0; s < 16; s++)
                {
                    sc[s] = rng.Next(16);
                    mn[s] = rng.Next(16);
                    x[s] = (byte)(sc[s] | (mn[s] << 4));
                }
                for (int i = 0; i < 256; i++)
                {
                    int q = rng.Next(4);
                    int n = i / 128, g = (i % 128) / 32, l = i % 32;
                    PutBits(x, 16 + 32 * n + l, 2 * g, 2, q);
                    y[i] = d * sc[i / 16] * q - dmin * mn[i / 16];
                }
                break;
            }
            case GgmlType.Q3_K:
            {
                float d = Scale(rng, -0.01f, 0.01f);
                PutHalf(x, 108, d);
                var sc = new int[16];
                for (int s = 0; s < 16; s++)
                    sc[s] = rng.Next(64);
                PackScalesQ3K(x, 96, sc);
                for (int i = 0; i < 256; i++)
                {
                    int q = rng.Next(-4, 4); // low 2 bits + 4 * high bit - 4
                    int u = q + 4;
                    int n = i / 128, g = (i % 128) / 32, l = i % 32;
                    PutBits(x, 32 + 32 * n + l, 2 * g, 2, u & 3);
                    PutBits(x, l, 4 * n + g, 1, u >> 2);
                    y[i] = d * (sc[i / 16] - 32) * q;
                }
                break;
            }
            case GgmlType.Q4_K:
            case GgmlType.Q5_K:
            {
                bool five = type == GgmlType.Q5_K;
                float d = Scale(rng, 0, 0.002f), dmin = Scale(rng, 0, 0.002f);
                PutHalf(x, 0, d);
                PutHalf(x, 2, dmin);
                var sc = new int[8];
                var mn = new int[8];
                for (int s = 0; s < 8; s++)
                {
                    sc[s] = rng.Next(64);
                    mn[s] = rng.Next(64);
                }
                PackScaleMinK4(x, 4, sc, mn);
                int qs = five ? 48 : 16;
                for (int i = 0; i < 256; i++)
                {
                    int q = rng.Next(five ? 32 : 16);
                    int j = i / 64, r = i % 64;
                    PutBits(x, qs + 32 * j + r % 32, 4 * (r / 32), 4, q & 15);
                    if (five) PutBits(x, 16 + r % 32, i / 32, 1, q >> 4);
                    y[i] = d * sc[i / 32] * q - dmin * mn[i / 32];
                }
                break;
            }
            case GgmlType.Q6_K:
            {
                float d = Scale(rng, -0.001f, 0.001f);
                PutHalf(x, 208, d);
                var sc = new int[16];
                for (int s = 0; s < 16; s++)
                {
                    sc[s] = rng.Next(-128, 128);
                    x[192 + s] = (byte)(sbyte)sc[s];
                }
                for (int i = 0; i < 256; i++)
                {
                    int q = rng.Next(64);
                    int n = i / 128, g = (i % 128) / 32, l = i % 32;
                    int qlIndex = 64 * n + l + (g % 2 == 1 ? 32 : 0);
                    PutBits(x, qlIndex, g >= 2 ? 4 : 0, 4, q & 15);
                    PutBits(x, 128 + 32 * n + l, 2 * g, 2, q >> 4);
                    y[i] = d * sc[i / 16] * (q - 32);
                }
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }
}
