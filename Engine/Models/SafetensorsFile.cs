using System.Buffers.Binary;
using System.Text.Json;
using Tipo.Errors;

namespace Tipo.Models;

/// <summary>
/// A safetensors file, memory-mapped read-only: an 8-byte little-endian header length, a JSON header
/// (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>), then the data.
/// Supported dtypes: F32, F16, BF16; any other dtype is reported as unsupported.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The safetensors format caps the header at 100 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly string[] KnownDtypes =
        ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"];

    private readonly MappedFile _file;
    private readonly Dictionary<string, TensorInfo> _byName;

    public string Path => _file.Path;
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <summary>The header's <c>__metadata__</c> (string to string), empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Absolute offset of the data section (8 + header length).</summary>
    public long DataOffset { get; }
    public byte* BasePointer => _file.Pointer;

    private SafetensorsFile(MappedFile file, List<TensorInfo> tensors, Dictionary<string, string> metadata, long dataOffset)
    {
        _file = file;
        Tensors = tensors;
        Metadata = metadata;
        DataOffset = dataOffset;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public static SafetensorsFile Open(string path)
    {
        return MappedFile.OpenAndParse(path, Parse);
    }

    public TensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    public ReadOnlySpan<byte> TensorBytes(TensorInfo tensor) => _file.Span(tensor.DataOffset, tensor.ByteSize);

    private static GgmlType? MapDtype(string dtype) => dtype switch
    {
        "F32" => GgmlType.F32,
        "F16" => GgmlType.F16,
        "BF16" => GgmlType.BF16,
        _ => null,
    };

    private static SafetensorsFile Parse(MappedFile file)
    {
        string p = file.Path;
        if (file.Length < 8)
            throw new ModelFormatException(p, $"file is {file.Length} bytes, too short for a safetensors header (truncated?)");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(0, 8));
        if (headerLen > (ulong)(file.Length - 8))
            throw new ModelFormatException(p, $"header length {headerLen} runs past the end of the {file.Length}-byte file (truncated or not a safetensors file)");
        if (headerLen > MaxHeaderBytes)
            throw new ModelFormatException(p, $"header length {headerLen} exceeds the safetensors limit of {MaxHeaderBytes} bytes");
        if (headerLen < 2)
            throw new ModelFormatException(p, $"header length {headerLen} is too small for a JSON header");
        long dataOffset = 8 + (long)headerLen;
        long dataLength = file.Length - dataOffset;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(file.Span(8, (long)headerLen).ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(p, $"header is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            try
            {
                return ParseHeader(file, doc, dataOffset, dataLength);
            }
            catch (InvalidOperationException e)
            {
                // JsonDocument parses strings lazily: invalid UTF-8 or a lone surrogate escape in a name or value surfaces here.
                throw new ModelFormatException(p, $"header holds text that is not valid UTF-8 or UTF-16: {e.Message}", e);
            }
        }
    }

    private static SafetensorsFile ParseHeader(MappedFile file, JsonDocument doc, long dataOffset, long dataLength)
    {
        string p = file.Path;
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(p, $"header must be a JSON object, got {doc.RootElement.ValueKind}");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<TensorInfo>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new ModelFormatException(p, $"duplicate header entry '{prop.Name}'");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new ModelFormatException(p, "__metadata__ must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new ModelFormatException(p, $"__metadata__ value '{m.Name}' must be a string, got {m.Value.ValueKind}");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                tensors.Add(ParseTensor(p, prop.Name, prop.Value, dataOffset, dataLength));
            }

            var sorted = tensors.OrderBy(t => t.DataOffset).ToList();
            for (int i = 1; i < sorted.Count; i++)
            {
                var prev = sorted[i - 1];
                if (prev.DataOffset + prev.ByteSize > sorted[i].DataOffset)
                    throw new ModelFormatException(p, $"tensors '{prev.Name}' and '{sorted[i].Name}' overlap (data_offsets {prev.DataOffset - dataOffset}..{prev.DataOffset + prev.ByteSize - dataOffset} and {sorted[i].DataOffset - dataOffset}..)");
            }
            return new SafetensorsFile(file, tensors, metadata, dataOffset);
        }
    }

    private static TensorInfo ParseTensor(string p, string name, JsonElement e, long dataOffset, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(p, $"tensor '{name}': header entry must be an object, got {e.ValueKind}");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new ModelFormatException(p, $"tensor '{name}': missing or non-string 'dtype'");
        string dtype = dt.GetString()!;
        var type = MapDtype(dtype);
        if (type is null)
        {
            if (Array.IndexOf(KnownDtypes, dtype) >= 0)
                throw new UnsupportedFeatureException($"{p}: tensor '{name}' has dtype {dtype}, not supported (F32, F16 and BF16 are)");
            throw new ModelFormatException(p, $"tensor '{name}' has unknown dtype '{dtype}'");
        }
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new ModelFormatException(p, $"tensor '{name}': missing or non-array 'shape'");
        if (sh.GetArrayLength() > 8)
            throw new ModelFormatException(p, $"tensor '{name}': {sh.GetArrayLength()} dimensions, too many");
        var shape = new long[sh.GetArrayLength()];
        long elements = 1;
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new ModelFormatException(p, $"tensor '{name}': shape entry {k} ({d}) is not a non-negative integer");
            shape[k++] = v;
            if (v != 0 && elements > long.MaxValue / v)
                throw new ModelFormatException(p, $"tensor '{name}': element count of shape [{string.Join(", ", shape)}] overflows");
            elements *= v;
        }
        long bytes;
        try
        {
            bytes = GgmlTypeInfo.TensorBytes(type.Value, elements);
        }
        catch (OverflowException)
        {
            throw new ModelFormatException(p, $"tensor '{name}': byte size of shape [{string.Join(", ", shape)}] overflows");
        }
        if (!e.TryGetProperty("data_offsets", out var offs) || offs.ValueKind != JsonValueKind.Array || offs.GetArrayLength() != 2)
            throw new ModelFormatException(p, $"tensor '{name}': 'data_offsets' must be [begin, end]");
        if (offs[0].ValueKind != JsonValueKind.Number || offs[1].ValueKind != JsonValueKind.Number
            || !offs[0].TryGetInt64(out long begin) || !offs[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new ModelFormatException(p, $"tensor '{name}': invalid data_offsets [{offs[0]}, {offs[1]}]");
        if (end > dataLength)
            throw new ModelFormatException(p, $"tensor '{name}': data_offsets [{begin}, {end}] run past the end of the {dataLength}-byte data section (truncated?)");
        if (end - begin != bytes)
            throw new ModelFormatException(p, $"tensor '{name}': data_offsets [{begin}, {end}] hold {end - begin} bytes but {dtype} shape [{string.Join(", ", shape)}] needs {bytes}");
        return new TensorInfo(name, type.Value, shape, elements, bytes, dataOffset + begin);
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>
/// The safetensors weights of a Hugging Face directory: <c>model.safetensors</c>, or the shards listed by
/// <c>model.safetensors.index.json</c>.
/// </summary>
public sealed class SafetensorsDirectory : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, (SafetensorsFile File, TensorInfo Tensor)> _tensors;

    public string Directory { get; }
    public IReadOnlyList<SafetensorsFile> Files => _files;
    /// <summary>Tensors in file order, then header order.</summary>
    public IReadOnlyList<(SafetensorsFile File, TensorInfo Tensor)> Tensors { get; }

    private SafetensorsDirectory(string dir, List<SafetensorsFile> files, List<(SafetensorsFile, TensorInfo)> tensors)
    {
        Directory = dir;
        _files = files;
        Tensors = tensors;
        _tensors = tensors.ToDictionary(t => t.Item2.Name, t => t, StringComparer.Ordinal);
    }

    public bool TryGet(string name, out SafetensorsFile file, out TensorInfo tensor)
    {
        if (_tensors.TryGetValue(name, out var x))
        {
            (file, tensor) = x;
            return true;
        }
        file = null!;
        tensor = null!;
        return false;
    }

    public static SafetensorsDirectory Open(string directory)
    {
        string dir = System.IO.Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir))
            throw new ModelFormatException(dir, "directory not found");
        string index = System.IO.Path.Combine(dir, IndexFileName);
        string single = System.IO.Path.Combine(dir, SingleFileName);
        var files = new List<SafetensorsFile>();
        try
        {
            if (File.Exists(index))
                return OpenSharded(dir, index, files);
            if (File.Exists(single))
            {
                var f = SafetensorsFile.Open(single);
                files.Add(f);
                return new SafetensorsDirectory(dir, files, f.Tensors.Select(t => (f, t)).ToList());
            }
            if (File.Exists(System.IO.Path.Combine(dir, "pytorch_model.bin")) || File.Exists(System.IO.Path.Combine(dir, "pytorch_model.bin.index.json")))
                throw new UnsupportedFeatureException($"{dir}: holds PyTorch .bin weights only; convert them to safetensors");
            throw new ModelFormatException(dir, $"no {SingleFileName} or {IndexFileName} in the directory");
        }
        catch
        {
            foreach (var f in files)
                f.Dispose();
            throw;
        }
    }

    private static SafetensorsDirectory OpenSharded(string dir, string index, List<SafetensorsFile> files)
    {
        var map = new List<(string Tensor, string Shard)>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(index, "missing 'weight_map' object");
            foreach (var e in wm.EnumerateObject())
            {
                if (e.Value.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException(index, $"weight_map entry '{e.Name}' must be a file name string");
                string shard = e.Value.GetString()!;
                if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                    throw new ModelFormatException(index, $"weight_map entry '{e.Name}' names '{shard}', not a file in the same directory");
                if (map.Any(m => m.Tensor == e.Name))
                    throw new ModelFormatException(index, $"weight_map lists '{e.Name}' twice");
                map.Add((e.Name, shard));
            }
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(index, $"not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new ModelFormatException(index, $"holds text that is not valid UTF-8 or UTF-16: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(index, $"cannot read: {e.Message}", e);
        }

        var byShard = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var tensors = new List<(SafetensorsFile, TensorInfo)>();
        foreach (var shard in map.Select(m => m.Shard).Distinct())
        {
            var f = SafetensorsFile.Open(System.IO.Path.Combine(dir, shard));
            files.Add(f);
            byShard[shard] = f;
        }
        foreach (var (tensor, shard) in map)
        {
            var f = byShard[shard];
            var t = f.FindTensor(tensor) ?? throw new ModelFormatException(f.Path, $"tensor '{tensor}' listed in {IndexFileName} is not in this shard");
            tensors.Add((f, t));
        }
        return new SafetensorsDirectory(dir, files, tensors);
    }

    public void Dispose()
    {
        foreach (var f in _files)
            f.Dispose();
    }
}
