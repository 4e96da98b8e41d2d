using System.Buffers.Binary;

namespace Tipo.Tests.Quantization;

/// <summary>Helpers that build quantised blocks element by element (independently of the dequantisers' loops).</summary>
internal static class QuantTestUtil
{
    public static void PutHalf(byte[] b, int offset, float value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(offset), BitConverter.HalfToUInt16Bits((Half)value));

    public static float RoundHalf(float value) => (float)(Half)value;

    /// <summary>Sets bits [shift, shift + width) of b[index] to value.</summary>
    public static void PutBits(byte[] b, int index, int shift, int width, int value)
    {
        int mask = ((1 << width) - 1) << shift;
        b[index] = (byte)((b[index] & ~mask) | ((value << shift) & mask));
    }

    /// <summary>Packs eight 6-bit scales and mins the way Q4_K/Q5_K store them (12 bytes).</summary>
    public static void PackScaleMinK4(byte[] b, int offset, int[] sc, int[] m)
    {
        for (int s = 0; s < 8; s++)
        {
            if (s < 4)
            {
                PutBits(b, offset + s, 0, 6, sc[s]);
                PutBits(b, offset + s + 4, 0, 6, m[s]);
            }
            else
            {
                PutBits(b, offset + s + 4, 0, 4, sc[s] & 15);
                PutBits(b, offset + s + 4, 4, 4, m[s] & 15);
                PutBits(b, offset + s - 4, 6, 2, sc[s] >> 4);
                PutBits(b, offset + s, 6, 2, m[s] >> 4);
            }
        }
    }

    /// <summary>Packs sixteen 6-bit scales the way Q3_K stores them (12 bytes).</summary>
    public static void PackScalesQ3K(byte[] b, int offset, int[] sc)
    {
        for (int i = 0; i < 16; i++)
        {
            if (i < 8) PutBits(b, offset + i, 0, 4, sc[i] & 15);
            else PutBits(b, offset + i - 8, 4, 4, sc[i] & 15);
            PutBits(b, offset + 8 + i % 4, 2 * (i / 4), 2, sc[i] >> 4);
        }
    }

    public static double Nmse(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Kernels.Reference.Nmse(a, b);
}
