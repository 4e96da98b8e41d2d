using System.Buffers.Binary;

namespace Tipo.Models;

/// <summary>C# reference quantisers (ggml's *_ref functions), for writing test and benchmark models.</summary>
public static class Quantize
{
    /// <summary>float to F16 bits, round to nearest even.</summary>
    public static ushort FloatToHalf(float x) => BitConverter.HalfToUInt16Bits((Half)x);

    /// <summary>float to BF16 bits, round to nearest even (NaN kept quiet).</summary>
    public static ushort FloatToBFloat16(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x))
            return (ushort)((u >> 16) | 0x40);
        return (ushort)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
    }

    /// <summary>Quantises <paramref name="src"/> (whole blocks of 32) to Q8_0 as ggml's quantize_row_q8_0_ref does.</summary>
    public static void Q8_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (src.Length % 32 != 0)
            throw new ArgumentException($"Q8_0 needs whole blocks of 32, got {src.Length} elements", nameof(src));
        int blocks = src.Length / 32;
        if (dst.Length != blocks * 34)
            throw new ArgumentException($"Q8_0: destination has {dst.Length} bytes, expected {blocks * 34}", nameof(dst));
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * 32, 32);
            var o = dst.Slice(b * 34, 34);
            float amax = 0;
            foreach (float v in x)
                amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteUInt16LittleEndian(o, FloatToHalf(d));
            for (int i = 0; i < 32; i++)
                o[2 + i] = (byte)(sbyte)MathF.Round(x[i] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>Encodes floats as <paramref name="type"/> (F32, F16, BF16 or Q8_0).</summary>
    public static byte[] FromFloat32(GgmlType type, ReadOnlySpan<float> src)
    {
        var bytes = new byte[GgmlTypeInfo.TensorBytes(type, src.Length)];
        switch (type)
        {
            case GgmlType.F32:
                for (int i = 0; i < src.Length; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), src[i]);
                break;
            case GgmlType.F16:
                for (int i = 0; i < src.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), FloatToHalf(src[i]));
                break;
            case GgmlType.BF16:
                for (int i = 0; i < src.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), FloatToBFloat16(src[i]));
                break;
            case GgmlType.Q8_0:
                Q8_0(src, bytes);
                break;
            default:
                throw new NotSupportedException($"no reference quantiser for {type}");
        }
        return bytes;
    }
}
