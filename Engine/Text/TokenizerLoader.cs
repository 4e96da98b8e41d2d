using Tipo.Errors;
using Tipo.Models;

namespace Tipo.Text;

/// <summary>Loads the tokenizer of a model from wherever the model keeps it: a GGUF file or a Hugging Face directory.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// <paramref name="path"/> is a directory (Hugging Face: <c>tokenizer.model</c> + <c>added_tokens.json</c>), a GGUF file
    /// (<c>tokenizer.ggml.*</c> metadata), or a file inside a Hugging Face directory (its directory is used).
    /// </summary>
    public static LlamaTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            return LlamaTokenizer.FromHuggingFaceDirectory(path);
        if (!File.Exists(path))
            throw new ModelFormatException(path, "model not found (expected a .gguf file or a Hugging Face directory)");
        if (GgufFile.HasMagic(path))
        {
            using GgufFile gguf = GgufFile.Open(path);
            return FromGguf(gguf);
        }
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && File.Exists(Path.Combine(dir, "tokenizer.model")))
            return LlamaTokenizer.FromHuggingFaceDirectory(dir);
        throw new ModelFormatException(path, "neither a GGUF file nor a Hugging Face directory with tokenizer.model");
    }

    /// <summary>The tokenizer embedded in an open GGUF file.</summary>
    public static LlamaTokenizer FromGguf(GgufFile gguf) => LlamaTokenizer.FromVocabulary(ReadVocabulary(gguf));

    /// <summary>Reads <c>tokenizer.ggml.*</c> (llama.cpp's SentencePiece "llama" tokenizer) from a GGUF file.</summary>
    public static SentencePieceVocabulary ReadVocabulary(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        string path = gguf.Path;
        string model = gguf.GetString("tokenizer.ggml.model") ?? "llama";
        if (model != "llama")
            throw new UnsupportedFeatureException($"{path}: tokenizer '{model}' is not supported (only the SentencePiece 'llama' tokenizer)");
        string[] tokens = gguf.GetStringArray("tokenizer.ggml.tokens")
            ?? throw new ModelFormatException(path, "required metadata 'tokenizer.ggml.tokens' is missing");
        int n = tokens.Length;
        float[] scores = gguf.Metadata.TryGetValue("tokenizer.ggml.scores", out GgufValue? s)
            ? NumberArray(s, path, "tokenizer.ggml.scores", n, v => (float)v)
            : new float[n];
        int[] types = gguf.Metadata.TryGetValue("tokenizer.ggml.token_type", out GgufValue? t)
            ? NumberArray(t, path, "tokenizer.ggml.token_type", n, v => (int)v)
            : Enumerable.Repeat(TokenType.Normal, n).ToArray();

        int Id(string key, int fallback)
        {
            if (!gguf.ContainsKey(key))
                return fallback;
            ulong v = gguf.GetUInt64(key);
            return v < (ulong)n ? (int)v : fallback; // llama.cpp stores "none" as 0xFFFFFFFF
        }

        return new SentencePieceVocabulary(tokens, scores, types,
            BosId: Id("tokenizer.ggml.bos_token_id", 1),
            EosId: Id("tokenizer.ggml.eos_token_id", 2),
            UnknownId: Id("tokenizer.ggml.unknown_token_id", 0),
            AddBos: gguf.GetBool("tokenizer.ggml.add_bos_token", true),
            AddSpacePrefix: gguf.GetBool("tokenizer.ggml.add_space_prefix", true))
        { Source = path };
    }

    private static T[] NumberArray<T>(GgufValue value, string path, string key, int n, Func<double, T> convert)
    {
        // Nested arrays (GgufValue[]) are arrays too, but not of numbers: Convert.ToDouble would throw InvalidCastException.
        if (value.Value is not Array a || value.Value is string[] || value.Value is GgufValue[])
            throw new ModelFormatException(path, $"metadata '{key}' is not a numeric array ({(value.IsArray ? $"an array of {value.ElementType}" : value.Type.ToString())})");
        if (a.Length != n)
            throw new ModelFormatException(path, $"metadata '{key}' has {a.Length} entries, tokenizer.ggml.tokens has {n}");
        var result = new T[n];
        for (int i = 0; i < n; i++)
            result[i] = convert(Convert.ToDouble(a.GetValue(i), System.Globalization.CultureInfo.InvariantCulture));
        return result;
    }
}
