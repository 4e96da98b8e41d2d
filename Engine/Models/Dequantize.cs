using System.Buffers.Binary;
using Tipo.Errors;

namespace Tipo.Models;

/// <summary>C# reference dequantisers (the GPU kernels are checked against these).</summary>
public static class Dequantize
{
    public static float HalfToFloat(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    public static float BFloat16ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    public static void F32(ReadOnlySpan<byte> src, Span<float> dst)
    {
        Check(src.Length, dst.Length * 4L, "F32");
        for (int i = 0; i < dst.Length; i++)
            dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void F16(ReadOnlySpan<byte> src, Span<float> dst)
    {
        Check(src.Length, dst.Length * 2L, "F16");
        for (int i = 0; i < dst.Length; i++)
            dst[i] = HalfToFloat(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void BF16(ReadOnlySpan<byte> src, Span<float> dst)
    {
        Check(src.Length, dst.Length * 2L, "BF16");
        for (int i = 0; i < dst.Length; i++)
            dst[i] = BFloat16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]));
    }

    /// <summary>Q8_0: blocks of 34 bytes, an F16 scale d then 32 int8 q; x = d * q.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q8_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length % 32 != 0)
            throw new ArgumentException($"Q8_0 needs whole blocks of 32, got {dst.Length} elements", nameof(dst));
        int blocks = dst.Length / 32;
        Check(src.Length, blocks * 34L, "Q8_0");
        for (int b = 0; b < blocks; b++)
        {
            var block = src.Slice(b * 34, 34);
            float d = HalfToFloat(BinaryPrimitives.ReadUInt16LittleEndian(block));
            var o = dst.Slice(b * 32, 32);
            for (int i = 0; i < 32; i++)
                o[i] = d * (sbyte)block[2 + i];
        }
    }

    /// <summary>Dequantises <paramref name="src"/> of <paramref name="type"/> into <paramref name="dst"/> (its length is the element count).</summary>
    public static void ToFloat32(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst, string? tensorName = null)
    {
        switch (type)
        {
            case GgmlType.F32: F32(src, dst); break;
            case GgmlType.F16: F16(src, dst); break;
            case GgmlType.BF16: BF16(src, dst); break;
            case GgmlType.Q8_0: Q8_0(src, dst); break;
            // Quantised types (issue 7): Engine/Models/Quantization.
            case GgmlType.Q4_0: Quantization.LegacyQuants.Q4_0(src, dst); break;
            case GgmlType.Q4_1: Quantization.LegacyQuants.Q4_1(src, dst); break;
            case GgmlType.Q5_0: Quantization.LegacyQuants.Q5_0(src, dst); break;
            case GgmlType.Q5_1: Quantization.LegacyQuants.Q5_1(src, dst); break;
            case GgmlType.Q2_K: Quantization.KQuants.Q2_K(src, dst); break;
            case GgmlType.Q3_K: Quantization.KQuants.Q3_K(src, dst); break;
            case GgmlType.Q4_K: Quantization.KQuants.Q4_K(src, dst); break;
            case GgmlType.Q5_K: Quantization.KQuants.Q5_K(src, dst); break;
            case GgmlType.Q6_K: Quantization.KQuants.Q6_K(src, dst); break;
            default:
                throw new UnsupportedFeatureException($"tensor {tensorName ?? "?"} has type {GgmlTypeInfo.Name(type)}, not supported yet");
        }
    }

    private static void Check(long have, long need, string type)
    {
        if (have != need)
            throw new ArgumentException($"{type}: source has {have} bytes, expected {need}");
    }
}
