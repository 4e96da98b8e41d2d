using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tipo.Fuzzing;

/// <summary>How a seed file is structured, which picks the structure-aware mutations.</summary>
public enum SeedKind
{
    Gguf,
    Safetensors,
    Json,
    Binary,
}

/// <summary>An unmodified model file the mutator starts from.</summary>
public sealed class FuzzSeed
{
    public required FuzzTarget Target { get; init; }
    /// <summary>The original file.</summary>
    public required string SourcePath { get; init; }
    /// <summary>The file's name in the case directory (config.json, model.safetensors, ...).</summary>
    public required string FileName { get; init; }
    public required SeedKind Kind { get; init; }
    /// <summary>The bytes that mutations touch: the whole file, or its header region for large files.</summary>
    public required byte[] Head { get; init; }
    public required long FileLength { get; init; }
    public GgufLayout? Layout { get; init; }

    /// <summary>Reads a seed; files over <paramref name="wholeFileLimit"/> bytes keep only their header region as the head.</summary>
    public static FuzzSeed Load(FuzzTarget target, string path, string fileName, SeedKind kind, long wholeFileLimit = 2 << 20)
    {
        long length = new FileInfo(path).Length;
        byte[] head;
        GgufLayout? layout = null;
        using (var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            long headLength = length;
            if (length > wholeFileLimit)
            {
                switch (kind)
                {
                    case SeedKind.Safetensors:
                    {
                        Span<byte> b = stackalloc byte[8];
                        s.ReadExactly(b);
                        headLength = Math.Min(length, 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(b) + 4096);
                        s.Position = 0;
                        break;
                    }
                    case SeedKind.Gguf:
                    {
                        // The header of a GGUF with a large vocabulary is up to a few MB; scan the first 16 MB at most.
                        byte[] probe = new byte[(int)Math.Min(length, 16 << 20)];
                        s.ReadExactly(probe);
                        s.Position = 0;
                        var l = GgufLayout.Scan(probe);
                        headLength = Math.Min(length, l.DataOffset + 4096);
                        break;
                    }
                    default:
                        headLength = Math.Min(length, wholeFileLimit);
                        break;
                }
            }
            head = new byte[headLength];
            s.ReadExactly(head);
        }
        if (kind == SeedKind.Gguf)
            layout = GgufLayout.Scan(head);
        return new FuzzSeed { Target = target, SourcePath = path, FileName = fileName, Kind = kind, Head = head, FileLength = length, Layout = layout };
    }
}

/// <summary>
/// Deterministic mutations of model files: bit flips, byte overwrites, truncation, insertions and deletions, huge counts
/// and lengths, offsets past the end, overlapping tensors, wrong dtypes, and JSON value replacements. The same seed and
/// random stream always give the same file.
/// </summary>
public sealed class Mutator(Random rng)
{
    private static readonly ulong[] InterestingU64 =
    [
        0, 1, 2, 3, 7, 8, 255, 256, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000,
        0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFE, 1UL << 40, 1UL << 62,
    ];

    private static readonly string[] Dtypes = ["F32", "F16", "BF16", "I8", "U8", "I64", "F64", "BOOL", "F8_E4M3", "Q8_0", "", "f32", "F32 "];

    public (FuzzInput Input, string Description) Mutate(FuzzSeed seed)
    {
        var input = new FuzzInput
        {
            Head = (byte[])seed.Head.Clone(),
            Source = seed.SourcePath,
            TailOffset = seed.Head.LongLength,
            TailLength = seed.FileLength - seed.Head.LongLength,
        };
        var what = new List<string>();
        int count = rng.Next(10) switch { < 6 => 1, < 9 => 2, _ => 3 + rng.Next(4) };
        for (int i = 0; i < count; i++)
        {
            try
            {
                what.Add(MutateOnce(seed, input));
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                // A JSON mutation met text an earlier mutation broke (invalid UTF-8, say): flip bits instead.
                what.Add(BitFlips(input));
            }
        }
        return (input, string.Join("; ", what));
    }

    private string MutateOnce(FuzzSeed seed, FuzzInput input)
    {
        int roll = rng.Next(100);
        // About half the mutations understand the format; the rest are generic.
        if (roll < 50)
        {
            switch (seed.Kind)
            {
                case SeedKind.Gguf when seed.Layout is { Fields.Count: > 0 }:
                    return MutateGgufField(seed.Layout, input);
                case SeedKind.Safetensors:
                    return MutateSafetensorsHeader(input);
                case SeedKind.Json:
                    return MutateJson(input);
            }
        }
        if (input.Head.Length == 0)
            return "nothing (empty)";
        return (roll % 7) switch
        {
            0 => Truncate(input),
            1 => BitFlips(input),
            2 => InterestingInteger(input),
            3 => DeleteRange(input),
            4 => InsertBytes(input),
            5 => OverwriteBytes(input),
            _ => rng.Next(2) == 0 ? BitFlips(input) : Truncate(input),
        };
    }

    private int Pos(FuzzInput input) => rng.Next(input.Head.Length);

    private string Truncate(FuzzInput input)
    {
        long length = rng.Next(3) switch
        {
            0 => rng.NextInt64(0, Math.Min(input.Length, 64) + 1),
            1 => rng.NextInt64(0, input.Head.LongLength + 1),
            _ => rng.NextInt64(0, input.Length + 1),
        };
        input.Truncate(length);
        return $"truncate to {length}";
    }

    private string BitFlips(FuzzInput input)
    {
        if (input.Head.Length == 0)
            return "nothing to flip (empty)";
        int n = 1 + rng.Next(8);
        var sb = new StringBuilder("flip bits at");
        for (int i = 0; i < n; i++)
        {
            int p = Pos(input);
            int bit = rng.Next(8);
            input.Head[p] ^= (byte)(1 << bit);
            sb.Append(' ').Append(p).Append('.').Append(bit);
        }
        return sb.ToString();
    }

    private ulong Interesting(long fileLength) => rng.Next(4) switch
    {
        0 => (ulong)fileLength + (ulong)rng.Next(3) - 1,
        1 => (ulong)rng.NextInt64(),
        _ => InterestingU64[rng.Next(InterestingU64.Length)],
    };

    private string InterestingInteger(FuzzInput input)
    {
        int width = rng.Next(2) == 0 ? 4 : 8;
        if (input.Head.Length < width)
            return BitFlips(input);
        int p = rng.Next(input.Head.Length - width + 1);
        ulong v = Interesting(input.Length);
        Write(input.Head, p, width, v);
        return $"u{width * 8} at {p} = {v}";
    }

    private static void Write(byte[] head, long p, int width, ulong v)
    {
        var s = head.AsSpan((int)p, width);
        switch (width)
        {
            case 1: s[0] = (byte)v; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)v); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)v); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(s, v); break;
        }
    }

    private static ulong Read(byte[] head, long p, int width) => width switch
    {
        1 => head[p],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan((int)p, 2)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan((int)p, 4)),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan((int)p, 8)),
    };

    private string DeleteRange(FuzzInput input)
    {
        int p = Pos(input);
        int n = Math.Min(input.Head.Length - p, 1 + rng.Next(rng.Next(2) == 0 ? 8 : 256));
        input.Head = [.. input.Head.AsSpan(0, p), .. input.Head.AsSpan(p + n)];
        return $"delete {n} bytes at {p}";
    }

    private string InsertBytes(FuzzInput input)
    {
        int p = rng.Next(input.Head.Length + 1);
        byte[] extra = new byte[1 + rng.Next(rng.Next(2) == 0 ? 8 : 256)];
        if (rng.Next(2) == 0)
            rng.NextBytes(extra);
        else
            extra.AsSpan().Fill((byte)(rng.Next(2) == 0 ? 0xFF : 0));
        input.Head = [.. input.Head.AsSpan(0, p), .. extra, .. input.Head.AsSpan(p)];
        return $"insert {extra.Length} bytes at {p}";
    }

    private string OverwriteBytes(FuzzInput input)
    {
        int p = Pos(input);
        int n = Math.Min(input.Head.Length - p, 1 + rng.Next(16));
        byte fill = (byte)(rng.Next(4) switch { 0 => 0, 1 => 0xFF, 2 => 0x80, _ => rng.Next(256) });
        input.Head.AsSpan(p, n).Fill(fill);
        return $"fill {n} bytes at {p} with 0x{fill:X2}";
    }

    // ---- GGUF ----

    private string MutateGgufField(GgufLayout layout, FuzzInput input)
    {
        var f = layout.Fields[rng.Next(layout.Fields.Count)];
        // Fields in the (large) scalar and string classes dominate; aim at the rarer, more dangerous ones half the time.
        if (rng.Next(2) == 0)
        {
            GgufFieldKind[] rare = [GgufFieldKind.TensorCount, GgufFieldKind.MetadataCount, GgufFieldKind.ArrayLength, GgufFieldKind.ArrayElementType,
                GgufFieldKind.DimensionCount, GgufFieldKind.Dimension, GgufFieldKind.TensorType, GgufFieldKind.TensorOffset, GgufFieldKind.ValueType];
            var kind = rare[rng.Next(rare.Length)];
            var candidates = layout.Fields.Where(x => x.Kind == kind).ToList();
            if (candidates.Count > 0)
                f = candidates[rng.Next(candidates.Count)];
        }
        if (f.Offset + f.Size > input.Head.Length)
            return "gguf field beyond the head (skipped)";
        ulong old = Read(input.Head, f.Offset, f.Size);
        ulong v;
        switch (f.Kind)
        {
            case GgufFieldKind.TensorOffset:
            {
                var others = layout.Fields.Where(x => x.Kind == GgufFieldKind.TensorOffset && x.Offset != f.Offset).ToList();
                v = rng.Next(6) switch
                {
                    0 when others.Count > 0 => Read(input.Head, others[rng.Next(others.Count)].Offset, 8), // overlap
                    1 => old + (ulong)layout.Alignment,                                                   // overlap the next
                    2 => (ulong)input.Length,                                                              // past the end
                    3 => old + 1,                                                                          // unaligned
                    4 => old > (ulong)layout.Alignment ? old - (ulong)layout.Alignment : 0,
                    _ => Interesting(input.Length),
                };
                break;
            }
            case GgufFieldKind.TensorType:
                v = rng.Next(3) switch { 0 => (ulong)rng.Next(40), 1 => (ulong)rng.Next(4) switch { 0 => 0, 1 => 1, 2 => 8, _ => 30 }, _ => Interesting(input.Length) };
                break;
            case GgufFieldKind.ValueType or GgufFieldKind.ArrayElementType:
                v = rng.Next(4) == 0 ? Interesting(input.Length) : (ulong)rng.Next(14);
                break;
            case GgufFieldKind.DimensionCount:
                v = (ulong)rng.Next(7);
                break;
            default:
                v = rng.Next(4) switch
                {
                    0 => old + 1,
                    1 => old == 0 ? 0 : old - 1,
                    2 => old * 2,
                    _ => Interesting(input.Length),
                };
                break;
        }
        Write(input.Head, f.Offset, f.Size, v);
        return $"gguf {f.Kind}{(f.Tensor >= 0 ? $" of tensor {f.Tensor}" : "")} at {f.Offset}: {old} -> {v}";
    }

    // ---- safetensors ----

    private string MutateSafetensorsHeader(FuzzInput input)
    {
        if (input.Head.Length < 8)
            return Truncate(input);
        ulong len = BinaryPrimitives.ReadUInt64LittleEndian(input.Head);
        if (len > (ulong)(input.Head.Length - 8))
            return InterestingInteger(input);
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(input.Head.AsSpan(8, (int)len)) as JsonObject;
        }
        catch (JsonException)
        {
            root = null;
        }
        if (root is null || root.Count == 0)
            return BitFlips(input);
        if (rng.Next(10) == 0)
        {
            ulong v = Interesting(input.Length);
            Write(input.Head, 0, 8, v);
            return $"safetensors header length {len} -> {v}";
        }
        var names = root.Select(p => p.Key).Where(k => k != "__metadata__").ToList();
        if (names.Count == 0)
            return BitFlips(input);
        string name = names[rng.Next(names.Count)];
        string what;
        if (root[name] is not JsonObject t)
        {
            what = $"safetensors '{name}' not an object";
        }
        else
        {
            switch (rng.Next(7))
            {
                case 0:
                {
                    string d = Dtypes[rng.Next(Dtypes.Length)];
                    t["dtype"] = rng.Next(8) == 0 ? JsonValue.Create(3) : JsonValue.Create(d);
                    what = $"safetensors '{name}' dtype -> {d}";
                    break;
                }
                case 1 when t["shape"] is JsonArray shape:
                {
                    if (shape.Count > 0 && rng.Next(3) != 0)
                    {
                        int k = rng.Next(shape.Count);
                        shape[k] = RandomJsonNumberOrJunk();
                        what = $"safetensors '{name}' shape[{k}] -> {shape[k]?.ToJsonString() ?? "null"}";
                    }
                    else
                    {
                        shape.Add(RandomJsonNumberOrJunk());
                        what = $"safetensors '{name}' shape gains a dimension";
                    }
                    break;
                }
                case 2 or 3 when t["data_offsets"] is JsonArray offs && offs.Count == 2:
                {
                    var other = root[names[rng.Next(names.Count)]] as JsonObject;
                    JsonArray? otherOffsets = other is null ? null : other["data_offsets"] as JsonArray;
                    long b = offs[0]!.GetValue<long>(), e = offs[1]!.GetValue<long>();
                    switch (rng.Next(6))
                    {
                        case 0 when otherOffsets is { Count: 2 } o2:
                            offs[0] = o2[0]!.DeepClone();
                            offs[1] = o2[1]!.DeepClone();
                            what = $"safetensors '{name}' data_offsets copied (overlap)";
                            break;
                        case 1:
                            offs[0] = b + 2; offs[1] = e + 2;
                            what = $"safetensors '{name}' data_offsets shifted by 2 (overlap)";
                            break;
                        case 2:
                            offs[0] = input.Length; offs[1] = input.Length + (e - b);
                            what = $"safetensors '{name}' data_offsets past the end";
                            break;
                        case 3:
                            offs[0] = e; offs[1] = b;
                            what = $"safetensors '{name}' data_offsets swapped";
                            break;
                        case 4:
                            offs.Add(0);
                            what = $"safetensors '{name}' data_offsets with three entries";
                            break;
                        default:
                            offs[rng.Next(2)] = RandomJsonNumberOrJunk();
                            what = $"safetensors '{name}' data_offsets -> {offs.ToJsonString()}";
                            break;
                    }
                    break;
                }
                case 4:
                {
                    string[] keys = ["dtype", "shape", "data_offsets"];
                    string k = keys[rng.Next(keys.Length)];
                    t.Remove(k);
                    what = $"safetensors '{name}' loses {k}";
                    break;
                }
                case 5:
                    root.Remove(name);
                    what = $"safetensors '{name}' removed";
                    break;
                default:
                    root[name] = rng.Next(3) switch { 0 => JsonValue.Create(1), 1 => new JsonArray(), _ => null };
                    what = $"safetensors '{name}' replaced by a non-object";
                    break;
            }
        }
        byte[] json = Encoding.UTF8.GetBytes(root.ToJsonString());
        // Pad with spaces to the old length (as safetensors writers do) so the data section stays where it was.
        if (json.Length < (int)len && rng.Next(4) != 0)
            json = [.. json, .. Enumerable.Repeat((byte)' ', (int)len - json.Length)];
        var head = new byte[8 + json.Length + (input.Head.Length - 8 - (int)len)];
        BinaryPrimitives.WriteUInt64LittleEndian(head, (ulong)json.Length);
        json.CopyTo(head, 8);
        input.Head.AsSpan(8 + (int)len).CopyTo(head.AsSpan(8 + json.Length));
        input.Head = head;
        return what;
    }

    // ---- JSON (config.json, added_tokens.json, tokenizer_config.json, special_tokens_map.json) ----

    private JsonNode RandomJsonNumberOrJunk() => rng.Next(12) switch
    {
        0 => JsonValue.Create(-1),
        1 => JsonValue.Create(0),
        2 => JsonValue.Create(int.MaxValue),
        3 => JsonValue.Create((long)int.MaxValue + 1),
        4 => JsonValue.Create(long.MaxValue),
        5 => JsonNode.Parse("1e300")!,
        6 => JsonNode.Parse("18446744073709551616")!,
        7 => JsonValue.Create(1.5),
        8 => JsonValue.Create("12"),
        9 => new JsonArray(1, 2),
        10 => JsonValue.Create(rng.Next(100_000)),
        _ => JsonValue.Create(10_000_000),
    };

    private JsonNode? RandomJsonValue() => rng.Next(8) switch
    {
        0 => null,
        1 => JsonValue.Create(true),
        2 => JsonValue.Create(""),
        3 => JsonValue.Create("<|long|>"),
        4 => new JsonObject(),
        5 => JsonNode.Parse(new string('[', 100) + new string(']', 100), documentOptions: DeepDocument),
        _ => RandomJsonNumberOrJunk(),
    };

    private string MutateJson(FuzzInput input)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(input.Head, documentOptions: DeepDocument);
        }
        catch (JsonException)
        {
            root = null;
        }
        if (root is null)
            return BitFlips(input);
        var containers = new List<JsonNode>();
        void Walk(JsonNode? n)
        {
            if (n is JsonObject o)
            {
                containers.Add(o);
                foreach (var p in o)
                    Walk(p.Value);
            }
            else if (n is JsonArray a)
            {
                containers.Add(a);
                foreach (var x in a)
                    Walk(x);
            }
        }
        Walk(root);
        var c = containers[rng.Next(containers.Count)];
        string what;
        if (c is JsonObject obj && obj.Count > 0)
        {
            var keys = obj.Select(p => p.Key).ToList();
            string key = keys[rng.Next(keys.Count)];
            switch (rng.Next(5))
            {
                case 0:
                    obj.Remove(key);
                    what = $"json remove '{key}'";
                    break;
                case 1:
                {
                    var value = obj[key];
                    obj.Remove(key);
                    string newKey = rng.Next(3) switch
                    {
                        0 => key + "x",
                        1 => new string('k', rng.Next(1, 4000)),
                        // Keys that are ids (tokenizer_config.json's added_tokens_decoder).
                        _ => rng.Next(5) switch { 0 => "2147483647", 1 => "-1", 2 => "99999999", 3 => "32013", _ => rng.Next(200_000).ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    };
                    obj[newKey] = value;
                    what = $"json rename '{key}'";
                    break;
                }
                default:
                {
                    var v = RandomJsonValue();
                    obj[key] = v;
                    what = $"json '{key}' -> {Short(v)}";
                    break;
                }
            }
        }
        else if (c is JsonArray arr && arr.Count > 0)
        {
            int k = rng.Next(arr.Count);
            var v = RandomJsonValue();
            arr[k] = v;
            what = $"json [{k}] -> {Short(v)}";
        }
        else
        {
            what = "json empty container";
        }
        input.Head = Encoding.UTF8.GetBytes(root.ToJsonString(DeepWriter));
        input.TailLength = 0;
        return what;
    }

    private static readonly JsonDocumentOptions DeepDocument = new() { MaxDepth = 1024 };
    private static readonly JsonSerializerOptions DeepWriter = new() { MaxDepth = 1024 };

    private static string Short(JsonNode? v)
    {
        string s = v?.ToJsonString(DeepWriter) ?? "null";
        return s.Length > 40 ? s[..40] + "..." : s;
    }
}
