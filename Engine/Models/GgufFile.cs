using System.Buffers.Binary;
using System.Text;
using Tipo.Errors;

namespace Tipo.Models;

/// <summary>
/// A GGUF file (versions 2 and 3, little-endian), memory-mapped read-only. The header is parsed and checked on
/// <see cref="Open"/>: every length and count is checked against the file size before anything is allocated, and
/// every tensor must lie inside the file, aligned, without overlapping another.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;
    public const long DefaultAlignment = 32;
    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDims = 4;

    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufValue> _metadata;
    private readonly Dictionary<string, TensorInfo> _byName;

    public string Path => _file.Path;
    public long FileLength => _file.Length;
    public int Version { get; }
    public IReadOnlyDictionary<string, GgufValue> Metadata => _metadata;
    /// <summary>Metadata keys in file order.</summary>
    public IReadOnlyList<string> MetadataKeys { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }
    public long Alignment { get; }
    /// <summary>Absolute offset of the tensor data section.</summary>
    public long DataOffset { get; }

    /// <summary>Base of the mapping; valid until <see cref="Dispose"/>.</summary>
    public byte* BasePointer => _file.Pointer;

    private GgufFile(MappedFile file, int version, Dictionary<string, GgufValue> metadata, List<string> keys,
        List<TensorInfo> tensors, long alignment, long dataOffset)
    {
        _file = file;
        Version = version;
        _metadata = metadata;
        MetadataKeys = keys;
        Tensors = tensors;
        Alignment = alignment;
        DataOffset = dataOffset;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>True when the file starts with the GGUF magic.</summary>
    public static bool HasMagic(string path)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            Span<byte> b = stackalloc byte[4];
            return s.ReadAtLeast(b, 4, throwOnEndOfStream: false) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(b) == Magic;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static GgufFile Open(string path)
    {
        return MappedFile.OpenAndParse(path, Parse);
    }

    private static GgufFile Parse(MappedFile file)
    {
        var r = new Reader(file);
        if (file.Length < 4)
            throw r.Error($"file is {file.Length} bytes, too short for a GGUF header");
        uint magic = r.U32("magic");
        if (magic != Magic)
        {
            string shown = Encoding.ASCII.GetString(file.Span(0, 4)).Replace("\0", "\\0", StringComparison.Ordinal);
            throw r.Error($"not a GGUF file (bad magic 0x{magic:X8} '{shown}', expected 'GGUF')");
        }
        uint version = r.U32("version");
        if (version is not (2 or 3))
        {
            if (version is 0x02000000 or 0x03000000)
                throw new UnsupportedFeatureException($"{file.Path}: big-endian GGUF files are not supported");
            throw new UnsupportedFeatureException($"{file.Path}: GGUF version {version} is not supported (only 2 and 3)");
        }
        ulong tensorCount = r.U64("tensor count");
        ulong kvCount = r.U64("metadata count");
        // Each metadata entry needs at least 8 (key length) + 4 (type) + 1 bytes; each tensor at least 8 + 4 + 4 + 8.
        if (kvCount > (ulong)r.Remaining / 13)
            throw r.Error($"metadata count {kvCount} is impossible for a {file.Length}-byte file");
        if (tensorCount > (ulong)r.Remaining / 24)
            throw r.Error($"tensor count {tensorCount} is impossible for a {file.Length}-byte file");

        var metadata = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        var keys = new List<string>((int)kvCount);
        for (ulong i = 0; i < kvCount; i++)
        {
            long at = r.Position;
            string key = r.String($"key of metadata entry {i}");
            uint type = r.U32($"type of metadata '{key}'");
            var value = r.Value((GgufValueType)type, key, depth: 0);
            if (!metadata.TryAdd(key, value))
                throw r.Error($"duplicate metadata key '{key}' at offset {at}");
            keys.Add(key);
        }

        long alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var alignValue))
        {
            long? a = alignValue.AsInt64();
            if (alignValue.Type != GgufValueType.UInt32 || a is not > 0 || (a.Value & (a.Value - 1)) != 0)
                throw r.Error($"general.alignment must be a power-of-two uint32, got {alignValue.Type} {alignValue}");
            alignment = a.Value;
        }

        var raw = new List<(string Name, long[] Ne, uint Type, ulong Offset)>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = r.String($"name of tensor {i}");
            if (name.Length == 0)
                throw r.Error($"tensor {i} has an empty name");
            if (!names.Add(name))
                throw r.Error($"duplicate tensor name '{name}'");
            uint nDims = r.U32($"dimension count of tensor '{name}'");
            if (nDims is 0 or > MaxDims)
                throw r.Error($"tensor '{name}' has {nDims} dimensions (1 to {MaxDims} allowed)");
            var ne = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong v = r.U64($"dimension {d} of tensor '{name}'");
                if (v > long.MaxValue)
                    throw r.Error($"tensor '{name}' dimension {d} is {v}, too large");
                ne[d] = (long)v;
            }
            uint type = r.U32($"type of tensor '{name}'");
            ulong offset = r.U64($"data offset of tensor '{name}'");
            raw.Add((name, ne, type, offset));
        }

        long headerEnd = r.Position;
        long dataOffset = AlignUp(headerEnd, alignment);
        if (dataOffset > file.Length && tensorCount > 0)
            throw r.Error($"truncated: the tensor data section would start at {dataOffset}, past the end of the {file.Length}-byte file");

        var tensors = new List<TensorInfo>(raw.Count);
        foreach (var (name, ne, typeNum, offset) in raw)
        {
            var type = (GgmlType)typeNum;
            if (!GgmlTypeInfo.IsKnown(type))
                throw r.Error($"tensor '{name}' has unknown ggml type {typeNum}");
            long elements = 1;
            foreach (long d in ne)
            {
                if (d == 0)
                    throw r.Error($"tensor '{name}' has a zero dimension (ne = [{string.Join(", ", ne)}])");
                if (elements > long.MaxValue / d)
                    throw r.Error($"tensor '{name}' element count overflows (ne = [{string.Join(", ", ne)}])");
                elements *= d;
            }
            int blockSize = GgmlTypeInfo.BlockSize(type);
            if (ne[0] % blockSize != 0)
                throw r.Error($"tensor '{name}' of type {type} has a row of {ne[0]} elements, not a multiple of the block size {blockSize}");
            long bytes;
            try
            {
                bytes = GgmlTypeInfo.TensorBytes(type, elements);
            }
            catch (OverflowException)
            {
                throw r.Error($"tensor '{name}' byte size overflows (ne = [{string.Join(", ", ne)}], {type})");
            }
            if (offset % (ulong)alignment != 0)
                throw r.Error($"tensor '{name}' data offset {offset} is not a multiple of the alignment {alignment}");
            if (offset > (ulong)(file.Length - Math.Min(dataOffset, file.Length)) || bytes > file.Length - dataOffset - (long)offset)
                throw r.Error($"tensor '{name}' ({bytes} bytes at data offset {offset}, absolute {dataOffset + (long)Math.Min(offset, long.MaxValue / 2)}) extends past the end of the {file.Length}-byte file (truncated?)");
            var shape = new long[ne.Length];
            for (int d = 0; d < ne.Length; d++)
                shape[d] = ne[ne.Length - 1 - d];
            tensors.Add(new TensorInfo(name, type, shape, elements, bytes, dataOffset + (long)offset));
        }

        var sorted = tensors.OrderBy(t => t.DataOffset).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            var prev = sorted[i - 1];
            if (prev.DataOffset + prev.ByteSize > sorted[i].DataOffset)
                throw r.Error($"tensors '{prev.Name}' (bytes {prev.DataOffset}..{prev.DataOffset + prev.ByteSize}) and '{sorted[i].Name}' (from {sorted[i].DataOffset}) overlap");
        }

        return new GgufFile(file, (int)version, metadata, keys, tensors, alignment, dataOffset);
    }

    private static long AlignUp(long x, long a) => (x + a - 1) / a * a;

    public bool ContainsKey(string key) => _metadata.ContainsKey(key);

    public bool TryGetTensor(string name, out TensorInfo tensor) => _byName.TryGetValue(name, out tensor!);

    public TensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The bytes of a tensor, valid until Dispose. Throws for tensors over int.MaxValue bytes.</summary>
    public ReadOnlySpan<byte> TensorBytes(TensorInfo tensor) => _file.Span(tensor.DataOffset, tensor.ByteSize);

    /// <summary>A string value, or null when the key is absent. Throws when the key holds another type.</summary>
    public string? GetString(string key)
    {
        if (!_metadata.TryGetValue(key, out var v))
            return null;
        return v.Value as string ?? throw WrongType(key, v, "string");
    }

    /// <summary>A string value that must be present.</summary>
    public string RequireString(string key) => GetString(key) ?? throw Missing(key);

    /// <summary>An unsigned integer value (any integer type that fits). Absent: <paramref name="defaultValue"/>, or an error when null.</summary>
    public uint GetUInt32(string key, uint? defaultValue = null)
    {
        if (!_metadata.TryGetValue(key, out var v))
            return defaultValue ?? throw Missing(key);
        long? i = v.AsInt64();
        if (i is null || v.IsArray)
            throw WrongType(key, v, "integer");
        if (i < 0 || i > uint.MaxValue)
            throw new ModelFormatException(Path, $"metadata '{key}' = {i} is out of range for uint32");
        return (uint)i.Value;
    }

    public ulong GetUInt64(string key, ulong? defaultValue = null)
    {
        if (!_metadata.TryGetValue(key, out var v))
            return defaultValue ?? throw Missing(key);
        if (v.Value is ulong u)
            return u;
        long? i = v.AsInt64();
        if (i is null)
            throw WrongType(key, v, "integer");
        if (i < 0)
            throw new ModelFormatException(Path, $"metadata '{key}' = {i} is negative");
        return (ulong)i.Value;
    }

    public int GetInt32(string key, int? defaultValue = null)
    {
        if (!_metadata.TryGetValue(key, out var v))
            return defaultValue ?? throw Missing(key);
        long? i = v.AsInt64();
        if (i is null)
            throw WrongType(key, v, "integer");
        if (i < int.MinValue || i > int.MaxValue)
            throw new ModelFormatException(Path, $"metadata '{key}' = {i} is out of range for int32");
        return (int)i.Value;
    }

    /// <summary>A float value (float32 or float64 stored). Absent: <paramref name="defaultValue"/>, or an error when null.</summary>
    public float GetFloat32(string key, float? defaultValue = null)
    {
        if (!_metadata.TryGetValue(key, out var v))
            return defaultValue ?? throw Missing(key);
        return v.Value switch
        {
            float f => f,
            double d => (float)d,
            _ => throw WrongType(key, v, "float"),
        };
    }

    public bool GetBool(string key, bool? defaultValue = null)
    {
        if (!_metadata.TryGetValue(key, out var v))
            return defaultValue ?? throw Missing(key);
        return v.Value is bool b ? b : throw WrongType(key, v, "bool");
    }

    /// <summary>An array value of element type T (exact .NET type, e.g. float[] for FLOAT32, int[] for INT32); null when absent.</summary>
    public T[]? GetArray<T>(string key)
    {
        if (!_metadata.TryGetValue(key, out var v))
            return null;
        return v.Value as T[] ?? throw WrongType(key, v, $"array of {typeof(T).Name}");
    }

    /// <summary>An array of strings; null when absent.</summary>
    public string[]? GetStringArray(string key) => GetArray<string>(key);

    private ModelFormatException Missing(string key) => new(Path, $"required metadata '{key}' is missing");

    private ModelFormatException WrongType(string key, GgufValue v, string expected) =>
        new(Path, $"metadata '{key}' is {(v.IsArray ? $"an array of {v.ElementType}" : v.Type.ToString())}, expected {expected}");

    public void Dispose() => _file.Dispose();

    /// <summary>Bounds-checked little-endian reader over the mapping.</summary>
    private sealed class Reader(MappedFile file)
    {
        private const int MaxDepth = 8;
        public long Position { get; private set; }
        public long Remaining => file.Length - Position;

        public ModelFormatException Error(string message) => new(file.Path, message);

        private ReadOnlySpan<byte> Take(long n, string what)
        {
            if (n > Remaining)
                throw Error($"truncated: needed {n} bytes for {what} at offset {Position}, only {Remaining} left in the {file.Length}-byte file");
            var s = file.Span(Position, n);
            Position += n;
            return s;
        }

        public byte U8(string what) => Take(1, what)[0];
        public ushort U16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
        public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
        public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

        public string String(string what)
        {
            ulong len = U64($"length of {what}");
            if (len > (ulong)Remaining)
                throw Error($"{what}: string length {len} at offset {Position - 8} runs past the end of the {file.Length}-byte file");
            if (len > int.MaxValue)
                throw Error($"{what}: string length {len} is too large");
            var bytes = Take((long)len, what);
            try
            {
                return Strict.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw Error($"{what}: string at offset {Position - (long)len} is not valid UTF-8");
            }
        }

        private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

        public GgufValue Value(GgufValueType type, string key, int depth)
        {
            switch (type)
            {
                case GgufValueType.UInt8: return new(type, U8(key));
                case GgufValueType.Int8: return new(type, (sbyte)U8(key));
                case GgufValueType.UInt16: return new(type, U16(key));
                case GgufValueType.Int16: return new(type, (short)U16(key));
                case GgufValueType.UInt32: return new(type, U32(key));
                case GgufValueType.Int32: return new(type, (int)U32(key));
                case GgufValueType.Float32: return new(type, BitConverter.UInt32BitsToSingle(U32(key)));
                case GgufValueType.UInt64: return new(type, U64(key));
                case GgufValueType.Int64: return new(type, (long)U64(key));
                case GgufValueType.Float64: return new(type, BitConverter.UInt64BitsToDouble(U64(key)));
                case GgufValueType.Bool:
                {
                    byte b = U8(key);
                    if (b > 1)
                        throw Error($"metadata '{key}': bool value {b} at offset {Position - 1} is not 0 or 1");
                    return new(type, b == 1);
                }
                case GgufValueType.String: return new(type, String($"metadata '{key}'"));
                case GgufValueType.Array: return Array(key, depth);
                default:
                    throw Error($"metadata '{key}' has unknown value type {(uint)type} at offset {Position - 4}");
            }
        }

        private static int MinSize(GgufValueType t) => t switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => 0,
        };

        private GgufValue Array(string key, int depth)
        {
            if (depth >= MaxDepth)
                throw Error($"metadata '{key}': arrays nested deeper than {MaxDepth}");
            var et = (GgufValueType)U32($"element type of array '{key}'");
            int min = MinSize(et);
            if (min == 0)
                throw Error($"metadata '{key}': array has unknown element type {(uint)et} at offset {Position - 4}");
            ulong count = U64($"length of array '{key}'");
            if (count > (ulong)Remaining / (ulong)min)
                throw Error($"metadata '{key}': array length {count} of {et} at offset {Position - 8} runs past the end of the {file.Length}-byte file");
            int n = (int)count; // < file length, and files over 2^31 * min bytes of one array are not plausible; checked below
            if (count > int.MaxValue)
                throw Error($"metadata '{key}': array length {count} is too large");
            System.Array result;
            switch (et)
            {
                case GgufValueType.UInt8: { var a = Take(n, key).ToArray(); result = a; break; }
                case GgufValueType.Int8: { var a = new sbyte[n]; Take(n, key).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan())); result = a; break; }
                case GgufValueType.Bool:
                {
                    var src = Take(n, key);
                    var a = new bool[n];
                    for (int i = 0; i < n; i++)
                    {
                        if (src[i] > 1)
                            throw Error($"metadata '{key}': bool element {i} is {src[i]}, not 0 or 1");
                        a[i] = src[i] == 1;
                    }
                    result = a;
                    break;
                }
                case GgufValueType.UInt16: result = Prims<ushort>(n, key); break;
                case GgufValueType.Int16: result = Prims<short>(n, key); break;
                case GgufValueType.UInt32: result = Prims<uint>(n, key); break;
                case GgufValueType.Int32: result = Prims<int>(n, key); break;
                case GgufValueType.Float32: result = Prims<float>(n, key); break;
                case GgufValueType.UInt64: result = Prims<ulong>(n, key); break;
                case GgufValueType.Int64: result = Prims<long>(n, key); break;
                case GgufValueType.Float64: result = Prims<double>(n, key); break;
                case GgufValueType.String:
                {
                    var a = new string[n];
                    for (int i = 0; i < n; i++)
                        a[i] = String($"element {i} of array '{key}'");
                    result = a;
                    break;
                }
                default: // nested array
                {
                    var a = new GgufValue[n];
                    for (int i = 0; i < n; i++)
                        a[i] = Array(key + $"[{i}]", depth + 1);
                    result = a;
                    break;
                }
            }
            return new GgufValue(GgufValueType.Array, result, et);
        }

        private T[] Prims<T>(int n, string key) where T : unmanaged
        {
            int size = sizeof(T);
            var src = Take((long)n * size, key);
            var a = new T[n];
            // The host is little-endian on every platform .NET 10 runs Tipo on.
            src.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
            return a;
        }
    }
}
