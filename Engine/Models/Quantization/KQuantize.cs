using System.Buffers.Binary;

namespace Tipo.Models.Quantization;

/// <summary>
/// Simple C# quantisers to the k-quant block layouts of <see cref="QuantLayouts"/> (the inverse of
/// <see cref="KQuants"/>), for writing test and benchmark models. Not llama.cpp's error-minimising search:
/// Q4_K takes each 32-element sub-block's range [min(0, lo), hi] as its scale and min; Q6_K maps each
/// 16-element sub-block's largest-magnitude element to -32. Both then quantise the sub-block scales to the
/// block's f16 super-scale and round each element against the scale the dequantiser will actually use.
/// </summary>
public static class KQuantize
{
    private const int QK_K = QuantLayouts.QK_K;

    /// <summary>Quantises <paramref name="src"/> (whole blocks of 256) to Q4_K.</summary>
    public static void Q4_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        const int B = QuantLayouts.Q4_K.Bytes;
        int blocks = QuantCommon.Blocks("Q4_K", QK_K, B, dst.Length, src.Length);
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];   // the (non-negative) amount subtracted: x = scale * q - min
        Span<int> sc = stackalloc int[8];
        Span<int> m = stackalloc int[8];
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * QK_K, QK_K);
            var y = dst.Slice(b * B, B);
            y.Clear();
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                var xs = x.Slice(32 * j, 32);
                float lo = 0, hi = float.NegativeInfinity;   // lo is at most 0: the min is subtracted, never added
                foreach (float v in xs)
                {
                    lo = MathF.Min(lo, v);
                    hi = MathF.Max(hi, v);
                }
                scales[j] = (hi - lo) / 15f;
                mins[j] = -lo;
                maxScale = MathF.Max(maxScale, scales[j]);
                maxMin = MathF.Max(maxMin, mins[j]);
            }
            float d = (float)(Half)(maxScale / 63f);
            float dmin = (float)(Half)(maxMin / 63f);
            for (int j = 0; j < 8; j++)
            {
                sc[j] = d > 0 ? Math.Clamp((int)MathF.Round(scales[j] / d, MidpointRounding.AwayFromZero), 0, 63) : 0;
                m[j] = dmin > 0 ? Math.Clamp((int)MathF.Round(mins[j] / dmin, MidpointRounding.AwayFromZero), 0, 63) : 0;
            }
            BinaryPrimitives.WriteUInt16LittleEndian(y[QuantLayouts.Q4_K.D..], BitConverter.HalfToUInt16Bits((Half)d));
            BinaryPrimitives.WriteUInt16LittleEndian(y[QuantLayouts.Q4_K.DMin..], BitConverter.HalfToUInt16Bits((Half)dmin));
            PackScaleMinK4(y.Slice(QuantLayouts.Q4_K.Scales, 12), sc, m);
            var qs = y.Slice(QuantLayouts.Q4_K.Qs, 128);
            for (int j = 0; j < 8; j++)
            {
                // The dequantiser's own float values: x = dl * q - ml.
                float dl = d * sc[j], ml = dmin * m[j];
                float idl = dl != 0 ? 1f / dl : 0f;
                var xs = x.Slice(32 * j, 32);
                int shift = 4 * (j & 1);
                var q = qs.Slice(32 * (j >> 1), 32);
                for (int l = 0; l < 32; l++)
                {
                    int v = Math.Clamp((int)MathF.Round((xs[l] + ml) * idl, MidpointRounding.AwayFromZero), 0, 15);
                    q[l] |= (byte)(v << shift);
                }
            }
        }
    }

    /// <summary>Quantises <paramref name="src"/> (whole blocks of 256) to Q6_K.</summary>
    public static void Q6_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        const int B = QuantLayouts.Q6_K.Bytes;
        int blocks = QuantCommon.Blocks("Q6_K", QK_K, B, dst.Length, src.Length);
        Span<float> scales = stackalloc float[16];
        Span<int> sc = stackalloc int[16];
        Span<byte> q = stackalloc byte[QK_K];   // 0..63, element order
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * QK_K, QK_K);
            var y = dst.Slice(b * B, B);
            y.Clear();
            float maxAbsScale = 0;
            for (int j = 0; j < 16; j++)
            {
                float extreme = 0;
                foreach (float v in x.Slice(16 * j, 16))
                    if (MathF.Abs(v) > MathF.Abs(extreme)) extreme = v;
                scales[j] = extreme / -32f;   // the extreme element quantises to -32, the end of [-32, 31] with more room
                maxAbsScale = MathF.Max(maxAbsScale, MathF.Abs(scales[j]));
            }
            float d = (float)(Half)(maxAbsScale / 127f);
            for (int j = 0; j < 16; j++)
            {
                sc[j] = d > 0 ? Math.Clamp((int)MathF.Round(scales[j] / d, MidpointRounding.AwayFromZero), -127, 127) : 0;
                float dl = d * sc[j];
                float idl = dl != 0 ? 1f / dl : 0f;
                for (int l = 16 * j; l < 16 * j + 16; l++)
                    q[l] = (byte)(Math.Clamp((int)MathF.Round(x[l] * idl, MidpointRounding.AwayFromZero), -32, 31) + 32);
                y[QuantLayouts.Q6_K.Scales + j] = (byte)(sbyte)sc[j];
            }
            BinaryPrimitives.WriteUInt16LittleEndian(y[QuantLayouts.Q6_K.D..], BitConverter.HalfToUInt16Bits((Half)d));
            // Layout (see KQuants.Q6_K): in each 128-element half n, element l (0..31) and its +32, +64, +96 partners
            // share ql[64n + l], ql[64n + l + 32] (low / high nibbles) and qh[32n + l] (2 bits each).
            for (int n = 0; n < 2; n++)
            {
                var ql = y.Slice(QuantLayouts.Q6_K.Ql + 64 * n, 64);
                var qh = y.Slice(QuantLayouts.Q6_K.Qh + 32 * n, 32);
                var qn = q.Slice(128 * n, 128);
                for (int l = 0; l < 32; l++)
                {
                    int q1 = qn[l], q2 = qn[l + 32], q3 = qn[l + 64], q4 = qn[l + 96];
                    ql[l] = (byte)((q1 & 0x0F) | ((q3 & 0x0F) << 4));
                    ql[l + 32] = (byte)((q2 & 0x0F) | ((q4 & 0x0F) << 4));
                    qh[l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                }
            }
        }
    }

    /// <summary>Packs eight 6-bit scales and mins into Q4_K/Q5_K's 12 bytes, the inverse of <see cref="KQuants.ScaleMinK4"/>.</summary>
    public static void PackScaleMinK4(Span<byte> q, ReadOnlySpan<int> sc, ReadOnlySpan<int> m)
    {
        for (int j = 0; j < 4; j++)
        {
            q[j] = (byte)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
            q[j + 4] = (byte)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
            q[j + 8] = (byte)((sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4));
        }
    }
}
