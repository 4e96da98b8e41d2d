using System.Text.Json;
using Tipo.Errors;

namespace Tipo.Text;

/// <summary>
/// Reads a Hugging Face slow-tokenizer directory (<c>tokenizer.model</c>, <c>added_tokens.json</c>,
/// <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>) into the vocabulary llama.cpp's
/// <c>convert_hf_to_gguf.py</c> would embed in a GGUF: added tokens are user-defined with score -1000, and
/// every entry of <c>added_tokens_decoder</c> marked special (or looking like <c>&lt;|...|&gt;</c>) is a control token.
/// </summary>
internal static class HuggingFaceTokenizerFiles
{
    private const float AddedTokenScore = -1000f;
    /// <summary>How far past the pieces and added tokens an added token id may lie (the gap is padded).</summary>
    internal const int MaxIdGap = 16_384;

    public static SentencePieceVocabulary Load(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir))
            throw new ModelFormatException(dir, "tokenizer directory not found");

        string modelPath = Path.Combine(dir, "tokenizer.model");
        if (!File.Exists(modelPath))
            throw new ModelFormatException(modelPath, "tokenizer.model not found (a LLaMA SentencePiece model is required)");
        var model = SentencePieceModelProto.Read(File.ReadAllBytes(modelPath), modelPath);
        if (model.ModelType != 2)
            throw new ModelFormatException(modelPath, $"SentencePiece model type {model.ModelType} is not BPE (2); only LLaMA-style BPE tokenizers are supported");

        var tokens = model.Pieces;
        var scores = model.Scores;
        var types = model.Types;
        int baseCount = tokens.Count;

        string configPath = Path.Combine(dir, "tokenizer_config.json");
        using JsonDocument? config = File.Exists(configPath) ? ParseJson(configPath) : null;
        string mapPath = Path.Combine(dir, "special_tokens_map.json");
        using JsonDocument? map = File.Exists(mapPath) ? ParseJson(mapPath) : null;

        var decoder = new List<(int Id, string Content, bool Special)>();
        if (config?.RootElement.TryGetProperty("added_tokens_decoder", out JsonElement dec) == true && dec.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty p in dec.EnumerateObject())
            {
                if (!int.TryParse(p.Name, out int id) || id < 0 || p.Value.ValueKind != JsonValueKind.Object
                    || !p.Value.TryGetProperty("content", out JsonElement c) || c.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException(configPath, $"added_tokens_decoder entry \"{p.Name}\" is not {{id: {{content, special}}}}");
                bool special = p.Value.TryGetProperty("special", out JsonElement s) && s.ValueKind == JsonValueKind.True;
                decoder.Add((id, c.GetString()!, special));
            }
        }

        string addedPath = Path.Combine(dir, "added_tokens.json");
        var added = new List<(int Id, string Content)>();
        if (File.Exists(addedPath))
        {
            using JsonDocument doc = ParseJson(addedPath);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(addedPath, "expected a JSON object {\"token\": id, ...}");
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0 || id > 10_000_000)
                    throw new ModelFormatException(addedPath, $"token \"{p.Name}\" has no valid id");
                added.Add((id, p.Name));
            }
        }
        else if (decoder.Any(d => d.Id >= baseCount))
        {
            throw new ModelFormatException(addedPath, $"added_tokens.json not found, but tokenizer_config.json declares added tokens beyond the {baseCount} SentencePiece pieces");
        }

        // Added ids follow the SentencePiece pieces; a gap is filled with [PAD] tokens. Bound the gap, so that one
        // large id cannot make the loader allocate millions of padding tokens (or overflow the count).
        long limit = (long)baseCount + added.Count + decoder.Count + MaxIdGap;
        foreach ((int id, string content) in added)
        {
            if (id >= limit)
                throw new ModelFormatException(addedPath, $"token \"{content}\" has id {id}, more than {MaxIdGap} ids past the {baseCount} SentencePiece pieces and {added.Count} added tokens");
        }
        foreach ((int id, string content, _) in decoder)
        {
            if (id >= limit)
                throw new ModelFormatException(configPath, $"added_tokens_decoder entry {id} (\"{content}\") is more than {MaxIdGap} ids past the {baseCount} SentencePiece pieces and {decoder.Count} added tokens");
        }

        int count = Math.Max(baseCount, Math.Max(
            added.Count == 0 ? 0 : added.Max(a => a.Id) + 1,
            decoder.Count == 0 ? 0 : decoder.Max(d => d.Id) + 1));
        for (int i = baseCount; i < count; i++)
        {
            tokens.Add($"[PAD{i}]");
            scores.Add(0f);
            types.Add(TokenType.Unused);
        }
        foreach ((int id, string content) in added)
        {
            tokens[id] = content;
            scores[id] = AddedTokenScore;
            types[id] = TokenType.UserDefined;
        }
        foreach ((int id, string content, bool special) in decoder)
        {
            if (special || LooksSpecial(content))
            {
                tokens[id] = content;
                types[id] = TokenType.Control;
            }
            else
            {
                tokens[id] = content.Replace('\u2581', ' ');
                types[id] = TokenType.UserDefined;
            }
            scores[id] = AddedTokenScore;
        }
        // Without tokenizer_config.json, special_tokens_map.json's additional_special_tokens still mark control tokens.
        if (decoder.Count == 0 && map?.RootElement.TryGetProperty("additional_special_tokens", out JsonElement extra) == true
            && extra.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement e in extra.EnumerateArray())
            {
                string? content = TokenContent(e);
                int id = content is null ? -1 : tokens.IndexOf(content);
                if (id >= baseCount)
                    types[id] = TokenType.Control;
            }
        }

        int Lookup(string name, int fallback)
        {
            string? content = map is not null && map.RootElement.TryGetProperty(name, out JsonElement m) ? TokenContent(m) : null;
            if (content is null && config is not null && config.RootElement.TryGetProperty(name, out JsonElement c))
                content = TokenContent(c);
            int id = content is null ? -1 : tokens.IndexOf(content);
            return id >= 0 ? id : fallback;
        }

        bool addBos = config?.RootElement.TryGetProperty("add_bos_token", out JsonElement ab) != true || ab.ValueKind != JsonValueKind.False;
        return new SentencePieceVocabulary(
            tokens.ToArray(), scores.ToArray(), types.ToArray(),
            BosId: Lookup("bos_token", model.BosId),
            EosId: Lookup("eos_token", model.EosId),
            UnknownId: Lookup("unk_token", Math.Max(0, model.UnkId)),
            AddBos: addBos,
            AddSpacePrefix: model.AddDummyPrefix)
        { Source = modelPath };
    }

    /// <summary>convert_hf_to_gguf.py's <c>does_token_look_special</c>.</summary>
    private static bool LooksSpecial(string t)
        => t is "<pad>" or "<mask>" or "<cls>" or "<sep>"
           || (t.StartsWith("<|", StringComparison.Ordinal) && t.EndsWith("|>", StringComparison.Ordinal))
           || (t.StartsWith("<\uFF5C", StringComparison.Ordinal) && t.EndsWith("\uFF5C>", StringComparison.Ordinal));

    private static string? TokenContent(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Object when e.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String => c.GetString(),
        _ => null,
    };

    private static JsonDocument ParseJson(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, "invalid JSON: " + e.Message, e);
        }
        try
        {
            // JsonDocument decodes strings lazily: check them all now, so invalid UTF-8 (or a lone surrogate escape)
            // is reported against this file instead of surfacing later as an InvalidOperationException.
            CheckStrings(doc.RootElement);
        }
        catch (InvalidOperationException e)
        {
            doc.Dispose();
            throw new ModelFormatException(path, "holds text that is not valid UTF-8 or UTF-16: " + e.Message, e);
        }
        return doc;
    }

    private static void CheckStrings(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                _ = e.GetString();
                break;
            case JsonValueKind.Array:
                foreach (JsonElement x in e.EnumerateArray())
                    CheckStrings(x);
                break;
            case JsonValueKind.Object:
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    _ = p.Name;
                    CheckStrings(p.Value);
                }
                break;
        }
    }
}
