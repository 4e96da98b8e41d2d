using System.Text;
using System.Text.Json;

namespace Tipo.Tests.Models;

/// <summary>Writes small safetensors files for tests; the header can be replaced to make broken files.</summary>
internal sealed class SafetensorsWriter
{
    private readonly List<(string Name, string Dtype, long[] Shape, byte[] Data)> _tensors = [];
    public Dictionary<string, string> Metadata { get; } = [];

    public SafetensorsWriter Add(string name, string dtype, long[] shape, byte[] data)
    {
        _tensors.Add((name, dtype, shape, data));
        return this;
    }

    public SafetensorsWriter AddF32(string name, long[] shape, float[] data) =>
        Add(name, "F32", shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    /// <summary>The JSON header object as it would be written.</summary>
    public Dictionary<string, object> Header()
    {
        var header = new Dictionary<string, object>();
        if (Metadata.Count > 0)
            header["__metadata__"] = Metadata;
        long offset = 0;
        foreach (var (name, dtype, shape, data) in _tensors)
        {
            header[name] = new Dictionary<string, object> { ["dtype"] = dtype, ["shape"] = shape, ["data_offsets"] = new[] { offset, offset + data.Length } };
            offset += data.Length;
        }
        return header;
    }

    public byte[] ToBytes(string? headerJson = null)
    {
        headerJson ??= JsonSerializer.Serialize(Header());
        var json = Encoding.UTF8.GetBytes(headerJson);
        var ms = new MemoryStream();
        ms.Write(BitConverter.GetBytes((ulong)json.Length));
        ms.Write(json);
        foreach (var t in _tensors)
            ms.Write(t.Data);
        return ms.ToArray();
    }

    public void Write(string path, string? headerJson = null) => File.WriteAllBytes(path, ToBytes(headerJson));
}

/// <summary>Composes GGUF bytes field by field, so tests can write any malformed header.</summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _ms = new();
    private readonly BinaryWriter _w;

    public RawGguf() => _w = new BinaryWriter(_ms);

    public long Length => _ms.Length;
    public RawGguf U8(byte v) { _w.Write(v); return this; }
    public RawGguf U32(uint v) { _w.Write(v); return this; }
    public RawGguf U64(ulong v) { _w.Write(v); return this; }
    public RawGguf F32(float v) { _w.Write(v); return this; }
    public RawGguf Bytes(byte[] b) { _w.Write(b); return this; }

    public RawGguf Header(ulong tensors, ulong kvs, uint version = 3, uint magic = 0x46554747) =>
        U32(magic).U32(version).U64(tensors).U64(kvs);

    public RawGguf Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return U64((ulong)b.Length).Bytes(b);
    }

    public RawGguf KvU32(string key, uint v) => Str(key).U32(4).U32(v);
    public RawGguf KvString(string key, string v) => Str(key).U32(8).Str(v);

    /// <summary>A tensor info entry; <paramref name="shape"/> outer first (written reversed as ne[]).</summary>
    public RawGguf Tensor(string name, uint type, ulong offset, params ulong[] shape)
    {
        Str(name).U32((uint)shape.Length);
        for (int i = shape.Length - 1; i >= 0; i--)
            U64(shape[i]);
        return U32(type).U64(offset);
    }

    public RawGguf Align(int alignment = 32)
    {
        while (_ms.Length % alignment != 0)
            _w.Write((byte)0);
        return this;
    }

    public RawGguf Zeros(int n) => Bytes(new byte[n]);

    public byte[] ToArray()
    {
        _w.Flush();
        return _ms.ToArray();
    }
}
