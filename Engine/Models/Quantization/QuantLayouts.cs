namespace Tipo.Models.Quantization;

/// <summary>
/// Byte layouts of the ggml quantised blocks, as GGUF stores them (little-endian, packed, no padding).
/// Offsets are from the start of a block. Legacy quants hold 32 elements per block; k-quants hold 256 (QK_K).
/// </summary>
public static class QuantLayouts
{
    /// <summary>Elements per k-quant super-block.</summary>
    public const int QK_K = 256;
    /// <summary>Elements per legacy block.</summary>
    public const int QK = 32;

    /// <summary>Q4_0, 18 bytes: d (f16), qs[16] (element j in the low nibble of qs[j], element j+16 in the high nibble). x = d * (q - 8).</summary>
    public static class Q4_0 { public const int Bytes = 18, D = 0, Qs = 2; }

    /// <summary>Q4_1, 20 bytes: d (f16), m (f16), qs[16] (nibbles as Q4_0). x = d * q + m.</summary>
    public static class Q4_1 { public const int Bytes = 20, D = 0, M = 2, Qs = 4; }

    /// <summary>Q5_0, 22 bytes: d (f16), qh (u32: bit j is the 5th bit of element j), qs[16]. x = d * (q - 16).</summary>
    public static class Q5_0 { public const int Bytes = 22, D = 0, Qh = 2, Qs = 6; }

    /// <summary>Q5_1, 24 bytes: d (f16), m (f16), qh (u32), qs[16]. x = d * q + m.</summary>
    public static class Q5_1 { public const int Bytes = 24, D = 0, M = 2, Qh = 4, Qs = 8; }

    /// <summary>
    /// Q2_K, 84 bytes: scales[16] (low nibble: 4-bit scale, high nibble: 4-bit min, one per 16 elements),
    /// qs[64] (2-bit quants), d (f16), dmin (f16). x = d * sc * q - dmin * m.
    /// </summary>
    public static class Q2_K { public const int Bytes = 84, Scales = 0, Qs = 16, D = 80, DMin = 82; }

    /// <summary>
    /// Q3_K, 110 bytes: hmask[32] (high bit, set = no offset), qs[64] (low 2 bits), scales[12] (sixteen 6-bit
    /// scales, offset by 32), d (f16). x = d * (sc - 32) * (q - (hbit ? 0 : 4)).
    /// </summary>
    public static class Q3_K { public const int Bytes = 110, HMask = 0, Qs = 32, Scales = 96, D = 108; }

    /// <summary>
    /// Q4_K, 144 bytes: d (f16), dmin (f16), scales[12] (eight 6-bit scales and eight 6-bit mins, packed,
    /// see <see cref="KQuants.ScaleMinK4"/>), qs[128] (4-bit quants). x = d * sc * q - dmin * m.
    /// </summary>
    public static class Q4_K { public const int Bytes = 144, D = 0, DMin = 2, Scales = 4, Qs = 16; }

    /// <summary>Q5_K, 176 bytes: d, dmin (f16), scales[12] (as Q4_K), qh[32] (5th bits), qs[128] (low nibbles).</summary>
    public static class Q5_K { public const int Bytes = 176, D = 0, DMin = 2, Scales = 4, Qh = 16, Qs = 48; }

    /// <summary>Q6_K, 210 bytes: ql[128] (low nibbles), qh[64] (high 2 bits), scales[16] (int8, one per 16 elements), d (f16). x = d * sc * (q - 32).</summary>
    public static class Q6_K { public const int Bytes = 210, Ql = 0, Qh = 128, Scales = 192, D = 208; }
}
