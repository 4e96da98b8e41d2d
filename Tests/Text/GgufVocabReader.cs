using System.Text;
using Tipo.Text;

namespace Tipo.Tests.Text;

/// <summary>
/// Test-only: reads just the <c>tokenizer.ggml.*</c> metadata of a GGUF file into a <see cref="SentencePieceVocabulary"/>.
/// (The engine's own GGUF reader lives elsewhere; this keeps the tokenizer tests independent of it.)
/// </summary>
internal static class GgufVocabReader
{
    public static SentencePieceVocabulary Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        if (r.ReadUInt32() != 0x46554747) // "GGUF"
            throw new InvalidDataException($"{path}: not a GGUF file");
        uint version = r.ReadUInt32();
        if (version < 2)
            throw new InvalidDataException($"{path}: GGUF version {version} not supported");
        r.ReadUInt64(); // tensor count
        ulong kvCount = r.ReadUInt64();
        var kv = new Dictionary<string, object>();
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = ReadString(r);
            uint type = r.ReadUInt32();
            kv[key] = ReadValue(r, type);
        }

        string[] tokens = ((object[])kv["tokenizer.ggml.tokens"]).Cast<string>().ToArray();
        float[] scores = kv.TryGetValue("tokenizer.ggml.scores", out object? s)
            ? ((object[])s).Select(Convert.ToSingle).ToArray() : new float[tokens.Length];
        int[] types = kv.TryGetValue("tokenizer.ggml.token_type", out object? t)
            ? ((object[])t).Select(Convert.ToInt32).ToArray() : Enumerable.Repeat(TokenType.Normal, tokens.Length).ToArray();
        int Id(string k, int fallback) => kv.TryGetValue(k, out object? v) && Convert.ToInt64(v) is long l && l >= 0 && l < tokens.Length ? (int)l : fallback;
        bool Flag(string k, bool fallback) => kv.TryGetValue(k, out object? v) ? (bool)v : fallback;
        return new SentencePieceVocabulary(tokens, scores, types,
            BosId: Id("tokenizer.ggml.bos_token_id", 1),
            EosId: Id("tokenizer.ggml.eos_token_id", 2),
            UnknownId: Id("tokenizer.ggml.unknown_token_id", 0),
            AddBos: Flag("tokenizer.ggml.add_bos_token", true),
            AddSpacePrefix: Flag("tokenizer.ggml.add_space_prefix", true))
        { Source = path };
    }

    private static string ReadString(BinaryReader r)
    {
        ulong n = r.ReadUInt64();
        return Encoding.UTF8.GetString(r.ReadBytes(checked((int)n)));
    }

    private static object ReadValue(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(),
        1 => r.ReadSByte(),
        2 => r.ReadUInt16(),
        3 => r.ReadInt16(),
        4 => r.ReadUInt32(),
        5 => r.ReadInt32(),
        6 => r.ReadSingle(),
        7 => r.ReadByte() != 0,
        8 => ReadString(r),
        9 => ReadArray(r),
        10 => r.ReadUInt64(),
        11 => r.ReadInt64(),
        12 => r.ReadDouble(),
        _ => throw new InvalidDataException($"unknown GGUF value type {type}"),
    };

    private static object[] ReadArray(BinaryReader r)
    {
        uint type = r.ReadUInt32();
        ulong n = r.ReadUInt64();
        var a = new object[checked((int)n)];
        for (int i = 0; i < a.Length; i++)
            a[i] = ReadValue(r, type);
        return a;
    }
}
