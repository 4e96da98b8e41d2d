using System.Buffers.Binary;
using System.Text;

namespace Tipo.Models;

/// <summary>
/// Writes GGUF files (version 3 by default): metadata of any type, then tensors with their data aligned.
/// Shapes are given outer first (PyTorch order) like <see cref="TensorInfo.Shape"/>; they are stored reversed as ggml's ne[].
/// Tensor data is streamed from a callback so that large synthetic models need not sit in memory.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValue Value)> _metadata = [];
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Shape, long ByteSize, Action<Stream> WriteData);

    public GgufWriter(uint version = 3, long alignment = GgufFile.DefaultAlignment)
    {
        if (version is not (2 or 3))
            throw new ArgumentOutOfRangeException(nameof(version), version, "GGUF version 2 or 3");
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0 || alignment > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "a power of two");
        Version = version;
        Alignment = alignment;
        if (alignment != GgufFile.DefaultAlignment)
            Add("general.alignment", GgufValue.Of((uint)alignment));
    }

    public uint Version { get; }
    public long Alignment { get; }

    public GgufWriter Add(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (_metadata.Any(m => m.Key == key))
            throw new ArgumentException($"metadata key '{key}' added twice", nameof(key));
        _metadata.Add((key, value));
        return this;
    }

    /// <summary>Adds or replaces a metadata value (keeps its position when replacing).</summary>
    public GgufWriter Set(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        int i = _metadata.FindIndex(m => m.Key == key);
        if (i >= 0)
            _metadata[i] = (key, value);
        else
            _metadata.Add((key, value));
        return this;
    }

    public GgufWriter Add(string key, string value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, uint value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, float value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, bool value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, string[] value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, float[] value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, int[] value) => Add(key, GgufValue.Of(value));

    /// <summary>Adds a tensor whose data is written by <paramref name="writeData"/>, which must write exactly its byte size.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(writeData);
        if (!_names.Add(name))
            throw new ArgumentException($"tensor '{name}' added twice", nameof(name));
        if (shape.Length is 0 or > GgufFile.MaxDims || shape.Any(d => d <= 0))
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] must have 1-4 positive dimensions", nameof(shape));
        if (shape[^1] % GgmlTypeInfo.BlockSize(type) != 0)
            throw new ArgumentException($"tensor '{name}': innermost dimension {shape[^1]} is not whole {type} blocks", nameof(shape));
        long elements = shape.Aggregate(1L, (a, d) => checked(a * d));
        long bytes = GgmlTypeInfo.TensorBytes(type, elements);
        _tensors.Add(new PendingTensor(name, type, (long[])shape.Clone(), bytes, writeData));
        return this;
    }

    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return AddTensor(name, type, shape, s => s.Write(data));
    }

    public GgufWriter AddTensorF32(string name, long[] shape, float[] data) =>
        AddTensor(name, GgmlType.F32, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    /// <summary>Adds an F16 tensor, converting <paramref name="data"/> with round-to-nearest-even.</summary>
    public GgufWriter AddTensorF16(string name, long[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var bytes = new byte[data.Length * 2];
        for (int i = 0; i < data.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), BitConverter.HalfToUInt16Bits((Half)data[i]));
        return AddTensor(name, GgmlType.F16, shape, bytes);
    }

    public void Write(string path)
    {
        using var s = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Write(s);
    }

    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        long written = 0;
        void U32(uint v) { w.Write(v); written += 4; }
        void U64(ulong v) { w.Write(v); written += 8; }
        void Str(string s)
        {
            var b = Encoding.UTF8.GetBytes(s);
            U64((ulong)b.Length);
            w.Write(b);
            written += b.Length;
        }
        void Scalar(GgufValueType t, object v)
        {
            switch (t)
            {
                case GgufValueType.UInt8: w.Write(Convert.ToByte(v, null)); written += 1; break;
                case GgufValueType.Int8: w.Write(Convert.ToSByte(v, null)); written += 1; break;
                case GgufValueType.Bool: w.Write((bool)v ? (byte)1 : (byte)0); written += 1; break;
                case GgufValueType.UInt16: w.Write(Convert.ToUInt16(v, null)); written += 2; break;
                case GgufValueType.Int16: w.Write(Convert.ToInt16(v, null)); written += 2; break;
                case GgufValueType.UInt32: U32(Convert.ToUInt32(v, null)); break;
                case GgufValueType.Int32: w.Write(Convert.ToInt32(v, null)); written += 4; break;
                case GgufValueType.Float32: w.Write(Convert.ToSingle(v, null)); written += 4; break;
                case GgufValueType.UInt64: U64(Convert.ToUInt64(v, null)); break;
                case GgufValueType.Int64: w.Write(Convert.ToInt64(v, null)); written += 8; break;
                case GgufValueType.Float64: w.Write(Convert.ToDouble(v, null)); written += 8; break;
                case GgufValueType.String: Str((string)v); break;
                case GgufValueType.Array: ArrayValue((GgufValue)v); break;
                default: throw new ArgumentException($"unknown GGUF value type {t}");
            }
        }
        void ArrayValue(GgufValue v)
        {
            var a = (Array)v.Value;
            U32((uint)v.ElementType!.Value);
            U64((ulong)a.Length);
            foreach (object? e in a)
                Scalar(v.ElementType.Value, e!);
        }

        U32(GgufFile.Magic);
        U32(Version);
        U64((ulong)_tensors.Count);
        U64((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            Str(key);
            U32((uint)value.Type);
            Scalar(value.Type, value.Type == GgufValueType.Array ? value : value.Value);
        }
        long offset = 0;
        var offsets = new List<long>();
        foreach (var t in _tensors)
        {
            Str(t.Name);
            U32((uint)t.Shape.Length);
            for (int d = t.Shape.Length - 1; d >= 0; d--)
                U64((ulong)t.Shape[d]);
            U32((uint)t.Type);
            U64((ulong)offset);
            offsets.Add(offset);
            offset = AlignUp(offset + t.ByteSize, Alignment);
        }
        Pad(w, ref written, Alignment);
        w.Flush();
        long dataStart = written;
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            Pad(w, ref written, Alignment);
            w.Flush();
            if (written - dataStart != offsets[i])
                throw new InvalidOperationException("internal error: tensor offset mismatch");
            var counter = new CountingStream(stream);
            t.WriteData(counter);
            if (counter.Count != t.ByteSize)
                throw new InvalidOperationException($"tensor '{t.Name}': wrote {counter.Count} bytes, expected {t.ByteSize}");
            written += counter.Count;
        }
        w.Flush();
    }

    private static long AlignUp(long x, long a) => (x + a - 1) / a * a;

    private static void Pad(BinaryWriter w, ref long written, long alignment)
    {
        long pad = AlignUp(written, alignment) - written;
        for (long i = 0; i < pad; i++)
            w.Write((byte)0);
        written += pad;
    }

    /// <summary>Forwards writes and counts the bytes.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count += count;
        }
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }
    }
}
