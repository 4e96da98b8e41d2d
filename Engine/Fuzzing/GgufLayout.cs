using System.Buffers.Binary;

namespace Tipo.Fuzzing;

/// <summary>What a field of a GGUF header holds, for structure-aware mutations.</summary>
public enum GgufFieldKind
{
    TensorCount,
    MetadataCount,
    StringLength,
    ValueType,
    ArrayElementType,
    ArrayLength,
    DimensionCount,
    Dimension,
    TensorType,
    TensorOffset,
    ScalarValue,
}

/// <summary>A field of a GGUF header: where it is, how wide it is, what it holds.</summary>
public readonly record struct GgufField(long Offset, int Size, GgufFieldKind Kind, int Tensor = -1);

/// <summary>
/// A tolerant scan of a well-formed GGUF header that records where every count, length, type and offset is, so the
/// mutator can aim at them. It stops quietly at anything unexpected (it only ever scans the unmutated seed).
/// </summary>
public sealed class GgufLayout
{
    public List<GgufField> Fields { get; } = [];
    /// <summary>End of the tensor infos (before alignment padding), or the file length when the scan stopped early.</summary>
    public long HeaderEnd { get; private set; }
    public long Alignment { get; private set; } = 32;
    public long DataOffset => (HeaderEnd + Alignment - 1) / Alignment * Alignment;

    public static GgufLayout Scan(byte[] data)
    {
        var layout = new GgufLayout();
        long pos = 0;
        bool Have(long n) => pos + n <= data.Length;
        ulong U64(GgufFieldKind? kind, int tensor = -1)
        {
            if (kind is { } k)
                layout.Fields.Add(new(pos, 8, k, tensor));
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan((int)pos, 8));
            pos += 8;
            return v;
        }
        uint U32(GgufFieldKind? kind, int tensor = -1)
        {
            if (kind is { } k)
                layout.Fields.Add(new(pos, 4, k, tensor));
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)pos, 4));
            pos += 4;
            return v;
        }
        bool SkipString()
        {
            if (!Have(8))
                return false;
            ulong len = U64(GgufFieldKind.StringLength);
            if (len > (ulong)(data.Length - pos))
                return false;
            pos += (long)len;
            return true;
        }
        static int Width(uint t) => t switch
        {
            0 or 1 or 7 => 1,
            2 or 3 => 2,
            4 or 5 or 6 => 4,
            10 or 11 or 12 => 8,
            _ => 0,
        };
        bool SkipValue(uint type, string key, int depth)
        {
            if (type == 8)
                return SkipString();
            if (type == 9)
            {
                if (depth > 4 || !Have(12))
                    return false;
                uint et = U32(GgufFieldKind.ArrayElementType);
                ulong n = U64(GgufFieldKind.ArrayLength);
                int w = Width(et);
                if (w > 0)
                {
                    if (n > (ulong)(data.Length - pos) / (ulong)w)
                        return false;
                    pos += (long)n * w;
                    return true;
                }
                for (ulong i = 0; i < n; i++)
                {
                    if (!SkipValue(et, key, depth + 1))
                        return false;
                }
                return true;
            }
            int width = Width(type);
            if (width == 0 || !Have(width))
                return false;
            if (key == "general.alignment" && width == 4)
                layout.Alignment = Math.Max(1, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)pos, 4)));
            layout.Fields.Add(new(pos, width, GgufFieldKind.ScalarValue));
            pos += width;
            return true;
        }

        layout.HeaderEnd = data.Length;
        if (!Have(24))
            return layout;
        pos = 8;
        ulong tensors = U64(GgufFieldKind.TensorCount);
        ulong kvs = U64(GgufFieldKind.MetadataCount);
        for (ulong i = 0; i < kvs; i++)
        {
            long keyAt = pos;
            if (!SkipString() || !Have(4))
                return layout;
            string key = System.Text.Encoding.UTF8.GetString(data, (int)keyAt + 8, (int)(pos - keyAt - 8));
            uint type = U32(GgufFieldKind.ValueType);
            if (!SkipValue(type, key, 0))
                return layout;
        }
        for (ulong i = 0; i < tensors; i++)
        {
            if (!SkipString() || !Have(4))
                return layout;
            uint dims = U32(GgufFieldKind.DimensionCount, (int)i);
            if (dims > 4 || !Have(8L * dims + 12))
                return layout;
            for (uint d = 0; d < dims; d++)
                U64(GgufFieldKind.Dimension, (int)i);
            U32(GgufFieldKind.TensorType, (int)i);
            U64(GgufFieldKind.TensorOffset, (int)i);
        }
        layout.HeaderEnd = pos;
        return layout;
    }
}
