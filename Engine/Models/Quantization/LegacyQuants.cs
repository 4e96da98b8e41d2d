using System.Buffers.Binary;
using static Tipo.Models.Quantization.QuantCommon;

namespace Tipo.Models.Quantization;

/// <summary>
/// Reference dequantisers of the legacy 32-element quants (Q4_0, Q4_1, Q5_0, Q5_1), with the float
/// arithmetic of ggml's dequantize_row_*: an integer quant times a float scale (plus a float min).
/// Within a block, element j (j &lt; 16) is in the low nibble of qs[j] and element j + 16 in its high nibble.
/// </summary>
public static class LegacyQuants
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q4_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = Blocks("Q4_0", 32, QuantLayouts.Q4_0.Bytes, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * QuantLayouts.Q4_0.Bytes, QuantLayouts.Q4_0.Bytes);
            var y = dst.Slice(b * 32, 32);
            float d = Half(x, QuantLayouts.Q4_0.D);
            var qs = x[QuantLayouts.Q4_0.Qs..];
            for (int j = 0; j < 16; j++)
            {
                y[j] = ((qs[j] & 0x0F) - 8) * d;
                y[j + 16] = ((qs[j] >> 4) - 8) * d;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q4_1(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = Blocks("Q4_1", 32, QuantLayouts.Q4_1.Bytes, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * QuantLayouts.Q4_1.Bytes, QuantLayouts.Q4_1.Bytes);
            var y = dst.Slice(b * 32, 32);
            float d = Half(x, QuantLayouts.Q4_1.D);
            float m = Half(x, QuantLayouts.Q4_1.M);
            var qs = x[QuantLayouts.Q4_1.Qs..];
            for (int j = 0; j < 16; j++)
            {
                y[j] = (qs[j] & 0x0F) * d + m;
                y[j + 16] = (qs[j] >> 4) * d + m;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q5_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = Blocks("Q5_0", 32, QuantLayouts.Q5_0.Bytes, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * QuantLayouts.Q5_0.Bytes, QuantLayouts.Q5_0.Bytes);
            var y = dst.Slice(b * 32, 32);
            float d = Half(x, QuantLayouts.Q5_0.D);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(x[QuantLayouts.Q5_0.Qh..]);
            var qs = x[QuantLayouts.Q5_0.Qs..];
            for (int j = 0; j < 16; j++)
            {
                int h0 = (int)((qh >> j) & 1) << 4;
                int h1 = (int)((qh >> (j + 16)) & 1) << 4;
                y[j] = (((qs[j] & 0x0F) | h0) - 16) * d;
                y[j + 16] = (((qs[j] >> 4) | h1) - 16) * d;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q5_1(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = Blocks("Q5_1", 32, QuantLayouts.Q5_1.Bytes, src.Length, dst.Length);
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * QuantLayouts.Q5_1.Bytes, QuantLayouts.Q5_1.Bytes);
            var y = dst.Slice(b * 32, 32);
            float d = Half(x, QuantLayouts.Q5_1.D);
            float m = Half(x, QuantLayouts.Q5_1.M);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(x[QuantLayouts.Q5_1.Qh..]);
            var qs = x[QuantLayouts.Q5_1.Qs..];
            for (int j = 0; j < 16; j++)
            {
                int h0 = (int)((qh >> j) & 1) << 4;
                int h1 = (int)((qh >> (j + 16)) & 1) << 4;
                y[j] = ((qs[j] & 0x0F) | h0) * d + m;
                y[j + 16] = ((qs[j] >> 4) | h1) * d + m;
            }
        }
    }
}
