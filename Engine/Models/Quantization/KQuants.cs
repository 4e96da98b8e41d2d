using static Tipo.Models.Quantization.QuantCommon;

namespace Tipo.Models.Quantization;

/// <summary>
/// Reference dequantisers of the k-quants (256-element super-blocks), with the float arithmetic of
/// ggml's dequantize_row_q*_K: a float sub-block scale d*sc (and min dmin*m), times the integer quant.
/// </summary>
public static class KQuants
{
    private const int QK_K = QuantLayouts.QK_K;

    /// <summary>
    /// The 6-bit scale and min of sub-block <paramref name="j"/> (0..7) of Q4_K/Q5_K from the 12 packed bytes
    /// <paramref name="q"/>: sub-blocks 0-3 keep theirs in the low 6 bits of bytes j (scale) and j+4 (min);
    /// sub-blocks 4-7 take their low 4 bits from the nibbles of byte j+4 and their top 2 bits from the
    /// top 2 bits of bytes j-4 (scale) and j (min).
    /// </summary>
    public static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q)
    {
        if (j < 4)
            return (q[j] & 63, q[j + 4] & 63);
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }

    /// <summary>
    /// The sixteen 6-bit scales of a Q3_K block (before the -32 offset) from its 12 packed bytes: scale i takes
    /// its low 4 bits from byte i (i &lt; 8, low nibble) or byte i-8 (high nibble), and its top 2 bits from
    /// byte 8 + i % 4, bits 2 * (i / 4).
    /// </summary>
    public static int ScaleQ3K(int i, ReadOnlySpan<byte> s)
    {
        int low = i < 8 ? s[i] & 0x0F : s[i - 8] >> 4;
        int high = (s[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
        return low | (high << 4);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q2_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        const int B = QuantLayouts.Q2_K.Bytes;
        int blocks = Blocks("Q2_K", QK_K, B, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * B, B);
            var y = dst.Slice(b * QK_K, QK_K);
            float d = Half(x, QuantLayouts.Q2_K.D);
            float min = Half(x, QuantLayouts.Q2_K.DMin);
            var scales = x.Slice(QuantLayouts.Q2_K.Scales, 16);
            int o = 0, si = 0;
            for (int n = 0; n < 2; n++)
            {
                var q = x.Slice(QuantLayouts.Q2_K.Qs + 32 * n, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        int sc = scales[si++];
                        float dl = d * (sc & 0x0F);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++)
                            y[o++] = dl * ((q[16 * half + l] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q3_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        const int B = QuantLayouts.Q3_K.Bytes;
        int blocks = Blocks("Q3_K", QK_K, B, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * B, B);
            var y = dst.Slice(b * QK_K, QK_K);
            float dAll = Half(x, QuantLayouts.Q3_K.D);
            var hm = x.Slice(QuantLayouts.Q3_K.HMask, 32);
            var scales = x.Slice(QuantLayouts.Q3_K.Scales, 12);
            int o = 0, si = 0, m = 1;
            for (int n = 0; n < 2; n++)
            {
                var q = x.Slice(QuantLayouts.Q3_K.Qs + 32 * n, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        float dl = dAll * (ScaleQ3K(si++, scales) - 32);
                        for (int l = 16 * half; l < 16 * half + 16; l++)
                            y[o++] = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) != 0 ? 0 : 4));
                    }
                    m <<= 1;
                }
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q4_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        const int B = QuantLayouts.Q4_K.Bytes;
        int blocks = Blocks("Q4_K", QK_K, B, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * B, B);
            var y = dst.Slice(b * QK_K, QK_K);
            float d = Half(x, QuantLayouts.Q4_K.D);
            float min = Half(x, QuantLayouts.Q4_K.DMin);
            var scales = x.Slice(QuantLayouts.Q4_K.Scales, 12);
            int o = 0;
            for (int j = 0; j < 4; j++)
            {
                var q = x.Slice(QuantLayouts.Q4_K.Qs + 32 * j, 32);
                var (sc1, m1i) = ScaleMinK4(2 * j, scales);
                var (sc2, m2i) = ScaleMinK4(2 * j + 1, scales);
                float d1 = d * sc1, m1 = min * m1i;
                float d2 = d * sc2, m2 = min * m2i;
                for (int l = 0; l < 32; l++)
                    y[o++] = d1 * (q[l] & 0x0F) - m1;
                for (int l = 0; l < 32; l++)
                    y[o++] = d2 * (q[l] >> 4) - m2;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q5_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        const int B = QuantLayouts.Q5_K.Bytes;
        int blocks = Blocks("Q5_K", QK_K, B, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * B, B);
            var y = dst.Slice(b * QK_K, QK_K);
            float d = Half(x, QuantLayouts.Q5_K.D);
            float min = Half(x, QuantLayouts.Q5_K.DMin);
            var scales = x.Slice(QuantLayouts.Q5_K.Scales, 12);
            var qh = x.Slice(QuantLayouts.Q5_K.Qh, 32);
            int o = 0, u1 = 1, u2 = 2;
            for (int j = 0; j < 4; j++)
            {
                var ql = x.Slice(QuantLayouts.Q5_K.Qs + 32 * j, 32);
                var (sc1, m1i) = ScaleMinK4(2 * j, scales);
                var (sc2, m2i) = ScaleMinK4(2 * j + 1, scales);
                float d1 = d * sc1, m1 = min * m1i;
                float d2 = d * sc2, m2 = min * m2i;
                for (int l = 0; l < 32; l++)
                    y[o++] = d1 * ((ql[l] & 0x0F) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++)
                    y[o++] = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
                u1 <<= 2;
                u2 <<= 2;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q6_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        const int B = QuantLayouts.Q6_K.Bytes;
        int blocks = Blocks("Q6_K", QK_K, B, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * B, B);
            var y = dst.Slice(b * QK_K, QK_K);
            float d = Half(x, QuantLayouts.Q6_K.D);
            for (int n = 0; n < 2; n++)
            {
                var ql = x.Slice(QuantLayouts.Q6_K.Ql + 64 * n, 64);
                var qh = x.Slice(QuantLayouts.Q6_K.Qh + 32 * n, 32);
                var sc = x.Slice(QuantLayouts.Q6_K.Scales + 8 * n, 8);
                var yo = y.Slice(128 * n, 128);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    yo[l] = d * (sbyte)sc[s] * q1;
                    yo[l + 32] = d * (sbyte)sc[s + 2] * q2;
                    yo[l + 64] = d * (sbyte)sc[s + 4] * q3;
                    yo[l + 96] = d * (sbyte)sc[s + 6] * q4;
                }
            }
        }
    }
}
