using Tipo.Errors;

namespace Tipo.Models;

/// <summary>ggml tensor types, numbered as in ggml.h (the numbers are stored in GGUF files).</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    // 4 and 5 (Q4_2, Q4_3) were removed from ggml.
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    // 31-33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were removed from ggml.
    TQ1_0 = 34,
    TQ2_0 = 35,
    // 36-38 (IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8) were removed from ggml.
    MXFP4 = 39,
}

/// <summary>Block geometry of each <see cref="GgmlType"/>.</summary>
public static class GgmlTypeInfo
{
    /// <summary>True when <paramref name="type"/> is a type this build knows the block layout of.</summary>
    public static bool IsKnown(GgmlType type) => Geometry(type).Elements != 0;

    /// <summary>Elements per block (1 for plain types, 32 for legacy quants, 256 for k-quants).</summary>
    public static int BlockSize(GgmlType type)
    {
        var g = Geometry(type);
        return g.Elements != 0 ? g.Elements : throw new UnsupportedFeatureException($"unknown ggml tensor type {(uint)type}");
    }

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(GgmlType type)
    {
        var g = Geometry(type);
        return g.Elements != 0 ? g.Bytes : throw new UnsupportedFeatureException($"unknown ggml tensor type {(uint)type}");
    }

    /// <summary>Bytes of one row of <paramref name="cols"/> elements. Throws when cols is not a whole number of blocks or on overflow.</summary>
    public static long RowBytes(GgmlType type, long cols)
    {
        if (cols < 0)
            throw new ArgumentOutOfRangeException(nameof(cols), cols, "negative column count");
        int bs = BlockSize(type);
        if (cols % bs != 0)
            throw new ArgumentException($"{cols} elements is not a whole number of {type} blocks of {bs}", nameof(cols));
        return checked(cols / bs * BlockBytes(type));
    }

    /// <summary>Bytes of a tensor with the given element count (must be whole blocks). Throws <see cref="OverflowException"/> on overflow.</summary>
    public static long TensorBytes(GgmlType type, long elements) => RowBytes(type, elements);

    /// <summary>Types that <see cref="ModelTensor.ToFloat32"/> and the compute kernels support today.</summary>
    public static bool IsSupportedForCompute(GgmlType type) =>
        type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0
            // Quantised types (issue 7): C# dequantisers in Engine/Models/Quantization, GPU matmul_<type>.comp.
            or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1
            or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>The name of a type, or "type N" for unknown numbers.</summary>
    public static string Name(GgmlType type) => IsKnown(type) ? type.ToString() : $"type {(uint)type}";

    private static (int Elements, int Bytes) Geometry(GgmlType type) => type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 => (1, 2),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q8_1 => (32, 36),
        GgmlType.Q2_K => (256, 84),
        GgmlType.Q3_K => (256, 110),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q5_K => (256, 176),
        GgmlType.Q6_K => (256, 210),
        GgmlType.Q8_K => (256, 292),
        GgmlType.IQ2_XXS => (256, 66),
        GgmlType.IQ2_XS => (256, 74),
        GgmlType.IQ3_XXS => (256, 98),
        GgmlType.IQ1_S => (256, 50),
        GgmlType.IQ4_NL => (32, 18),
        GgmlType.IQ3_S => (256, 110),
        GgmlType.IQ2_S => (256, 82),
        GgmlType.IQ4_XS => (256, 136),
        GgmlType.I8 => (1, 1),
        GgmlType.I16 => (1, 2),
        GgmlType.I32 => (1, 4),
        GgmlType.I64 => (1, 8),
        GgmlType.F64 => (1, 8),
        GgmlType.IQ1_M => (256, 56),
        GgmlType.BF16 => (1, 2),
        GgmlType.TQ1_0 => (256, 54),
        GgmlType.TQ2_0 => (256, 66),
        GgmlType.MXFP4 => (32, 17),
        _ => (0, 0),
    };
}
