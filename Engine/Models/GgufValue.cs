using System.Globalization;

namespace Tipo.Models;

/// <summary>GGUF metadata value types, numbered as in the GGUF spec.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>
/// One GGUF metadata value. <see cref="Value"/> holds the boxed scalar (byte, sbyte, ushort, short, uint, int, float, bool,
/// ulong, long, double), a string, or for arrays a typed .NET array (byte[] ... double[], bool[], string[],
/// or <see cref="GgufValue"/>[] for arrays of arrays).
/// </summary>
public sealed class GgufValue
{
    public GgufValueType Type { get; }

    /// <summary>For arrays, the element type; otherwise null.</summary>
    public GgufValueType? ElementType { get; }

    public object Value { get; }

    public GgufValue(GgufValueType type, object value, GgufValueType? elementType = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (type == GgufValueType.Array && (elementType == null || value is not Array))
            throw new ArgumentException("an array value needs an element type and a .NET array", nameof(value));
        Type = type;
        Value = value;
        ElementType = type == GgufValueType.Array ? elementType : null;
    }

    public static GgufValue Of(string s) => new(GgufValueType.String, s);
    public static GgufValue Of(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Of(int v) => new(GgufValueType.Int32, v);
    public static GgufValue Of(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue Of(long v) => new(GgufValueType.Int64, v);
    public static GgufValue Of(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Of(double v) => new(GgufValueType.Float64, v);
    public static GgufValue Of(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue Of(string[] v) => new(GgufValueType.Array, v, GgufValueType.String);
    public static GgufValue Of(float[] v) => new(GgufValueType.Array, v, GgufValueType.Float32);
    public static GgufValue Of(int[] v) => new(GgufValueType.Array, v, GgufValueType.Int32);
    public static GgufValue Of(uint[] v) => new(GgufValueType.Array, v, GgufValueType.UInt32);

    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>Number of elements of an array value (0 for scalars).</summary>
    public int ArrayLength => Value is Array a ? a.Length : 0;

    /// <summary>The value as a 64-bit signed integer when it is an integer type and fits; null otherwise.</summary>
    public long? AsInt64() => Value switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        long v => v,
        ulong v when v <= long.MaxValue => (long)v,
        _ => null,
    };

    /// <summary>The value as a double when it is numeric; null otherwise.</summary>
    public double? AsDouble() => Value switch
    {
        float v => v,
        double v => v,
        ulong v => v,
        _ => AsInt64(),
    };

    /// <summary>Short display form (arrays show their length and first elements).</summary>
    public override string ToString()
    {
        if (Value is string s)
            return s;
        if (Value is Array a)
        {
            var first = new List<string>();
            for (int i = 0; i < Math.Min(a.Length, 4); i++)
                first.Add(Convert.ToString(a.GetValue(i), CultureInfo.InvariantCulture) ?? "");
            return $"[{ElementType} x {a.Length}: {string.Join(", ", first)}{(a.Length > 4 ? ", ..." : "")}]";
        }
        return Convert.ToString(Value, CultureInfo.InvariantCulture) ?? "";
    }
}
