using System.Globalization;
using System.Numerics;

namespace Tipo.Expansion;

/// <summary>The <c>aspect_ratio:</c> value: Python's <c>f"{w/h:.1f}"</c>, i.e. the exact binary double rounded half-to-even.</summary>
public static class AspectRatio
{
    /// <summary>Formats <paramref name="width"/>/<paramref name="height"/> to one decimal as Python does.</summary>
    public static string Format(int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"width and height must be positive (got {width}x{height})");
        return FormatOneDecimal((double)width / height);
    }

    /// <summary>Python's <c>f"{value:.1f}"</c> for a finite non-negative double.</summary>
    public static string FormatOneDecimal(double value)
    {
        if (!double.IsFinite(value) || value < 0)
            throw new ArgumentOutOfRangeException(nameof(value));
        long bits = BitConverter.DoubleToInt64Bits(value);
        int exponent = (int)((bits >> 52) & 0x7FF);
        long fraction = bits & 0xFFFFFFFFFFFFFL;
        BigInteger mantissa = exponent == 0 ? fraction : fraction | (1L << 52);
        int shift = (exponent == 0 ? 1 : exponent) - 1075; // value = mantissa * 2^shift, exactly
        BigInteger tenths;
        if (shift >= 0)
        {
            tenths = mantissa * 10 << shift;
        }
        else
        {
            BigInteger denominator = BigInteger.One << -shift;
            BigInteger numerator = mantissa * 10;
            tenths = BigInteger.DivRem(numerator, denominator, out BigInteger remainder);
            int cmp = (remainder * 2).CompareTo(denominator);
            if (cmp > 0 || (cmp == 0 && !tenths.IsEven))
                tenths += 1;
        }
        BigInteger whole = BigInteger.DivRem(tenths, 10, out BigInteger digit);
        return whole.ToString(CultureInfo.InvariantCulture) + "." + digit.ToString(CultureInfo.InvariantCulture);
    }
}
