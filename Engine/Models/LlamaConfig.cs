using System.Globalization;
using System.Text.Json;
using Tipo.Errors;

namespace Tipo.Models;

/// <summary>The hyper-parameters of a LLaMA model, from a Hugging Face config.json or GGUF metadata.</summary>
public sealed record LlamaConfig(
    int HiddenSize,
    int IntermediateSize,
    int LayerCount,
    int HeadCount,
    int KvHeadCount,
    int HeadDim,
    int VocabSize,
    float RmsNormEps,
    float RopeTheta,
    bool TieWordEmbeddings,
    int MaxPositionEmbeddings,
    int BosTokenId,
    int EosTokenId,
    int RopeDimensionCount,
    int? PadTokenId = null,
    string? Name = null)
{
    /// <summary>Query heads per KV head (1 without GQA).</summary>
    public int GqaGroupSize => HeadCount / KvHeadCount;

    /// <summary>Width of the Q projection output, HeadCount * HeadDim.</summary>
    public int QDim => HeadCount * HeadDim;

    /// <summary>Width of the K and V projection outputs, KvHeadCount * HeadDim.</summary>
    public int KvDim => KvHeadCount * HeadDim;

    /// <summary>Checks the values are consistent; throws <see cref="ModelFormatException"/> naming <paramref name="path"/>.</summary>
    public void Validate(string path)
    {
        void Positive(int v, string n)
        {
            if (v <= 0)
                throw new ModelFormatException(path, $"{n} must be positive, got {v}");
        }
        Positive(HiddenSize, "hidden size");
        Positive(IntermediateSize, "intermediate size");
        Positive(LayerCount, "layer count");
        Positive(HeadCount, "head count");
        Positive(KvHeadCount, "KV head count");
        Positive(HeadDim, "head dim");
        Positive(VocabSize, "vocab size");
        Positive(MaxPositionEmbeddings, "context length");
        if (HeadCount % KvHeadCount != 0)
            throw new ModelFormatException(path, $"head count {HeadCount} is not a multiple of the KV head count {KvHeadCount}");
        if (HeadDim % 2 != 0)
            throw new ModelFormatException(path, $"head dim {HeadDim} must be even for RoPE");
        if (!(RmsNormEps > 0) || !float.IsFinite(RmsNormEps))
            throw new ModelFormatException(path, $"rms norm epsilon must be positive, got {RmsNormEps.ToString(CultureInfo.InvariantCulture)}");
        if (!(RopeTheta > 0) || !float.IsFinite(RopeTheta))
            throw new ModelFormatException(path, $"rope theta must be positive, got {RopeTheta.ToString(CultureInfo.InvariantCulture)}");
        if (RopeDimensionCount != HeadDim)
            throw new UnsupportedFeatureException($"{path}: partial rotary embeddings (rope dimension {RopeDimensionCount} of head dim {HeadDim}) are not supported");
        if ((long)HeadCount * HeadDim > int.MaxValue)
            throw new ModelFormatException(path, "head count * head dim overflows");
    }

    /// <summary>Reads a Hugging Face config.json. <c>architectures</c> must contain LlamaForCausalLM.</summary>
    public static LlamaConfig FromConfigJson(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new ModelFormatException(full, "config.json not found");
        byte[] bytes;
        try
        {
            var info = new FileInfo(full);
            if (info.Length > 16 << 20)
                throw new ModelFormatException(full, $"is {info.Length} bytes, too large for a config.json");
            bytes = File.ReadAllBytes(full);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(full, $"cannot read: {e.Message}", e);
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64, AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(full, $"not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            try
            {
                return FromConfigJsonDocument(full, doc.RootElement);
            }
            catch (InvalidOperationException e)
            {
                // JsonDocument decodes strings lazily: invalid UTF-8 or a lone surrogate escape surfaces here.
                throw new ModelFormatException(full, $"holds text that is not valid UTF-8 or UTF-16: {e.Message}", e);
            }
        }
    }

    private static LlamaConfig FromConfigJsonDocument(string full, JsonElement root)
    {
        {
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(full, $"must be a JSON object, got {root.ValueKind}");

            if (!root.TryGetProperty("architectures", out var arch) || arch.ValueKind != JsonValueKind.Array)
                throw new ModelFormatException(full, "missing 'architectures' list");
            var archs = arch.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.String ? a.GetString()! : a.ToString()).ToList();
            if (!archs.Contains("LlamaForCausalLM"))
                throw new UnsupportedFeatureException($"{full}: architecture [{string.Join(", ", archs)}] is not supported (only LlamaForCausalLM)");

            if (root.TryGetProperty("rope_scaling", out var rs) && rs.ValueKind != JsonValueKind.Null)
            {
                string kind = rs.ValueKind == JsonValueKind.Object
                    ? (rs.TryGetProperty("rope_type", out var k1) ? k1.ToString() : rs.TryGetProperty("type", out var k2) ? k2.ToString() : rs.ToString())
                    : rs.ToString();
                if (kind != "default")
                    throw new UnsupportedFeatureException($"{full}: rope_scaling '{kind}' is not supported (only none)");
            }
            if (Bool(full, root, "attention_bias", false))
                throw new UnsupportedFeatureException($"{full}: attention_bias = true is not supported");
            if (Bool(full, root, "mlp_bias", false))
                throw new UnsupportedFeatureException($"{full}: mlp_bias = true is not supported");
            if (root.TryGetProperty("hidden_act", out var act) && act.ValueKind == JsonValueKind.String && act.GetString() != "silu")
                throw new UnsupportedFeatureException($"{full}: hidden_act '{act.GetString()}' is not supported (only silu)");

            int hidden = Int(full, root, "hidden_size");
            int heads = Int(full, root, "num_attention_heads");
            int kvHeads = Int(full, root, "num_key_value_heads", heads);
            if (heads <= 0)
                throw new ModelFormatException(full, $"num_attention_heads must be positive, got {heads}");
            int headDim = Int(full, root, "head_dim", hidden / heads);
            int? pad = root.TryGetProperty("pad_token_id", out var pe) && pe.ValueKind == JsonValueKind.Number ? Int(full, root, "pad_token_id") : null;
            var config = new LlamaConfig(
                HiddenSize: hidden,
                IntermediateSize: Int(full, root, "intermediate_size"),
                LayerCount: Int(full, root, "num_hidden_layers"),
                HeadCount: heads,
                KvHeadCount: kvHeads,
                HeadDim: headDim,
                VocabSize: Int(full, root, "vocab_size"),
                RmsNormEps: Float(full, root, "rms_norm_eps", 1e-6f),
                RopeTheta: Float(full, root, "rope_theta", 10000f),
                TieWordEmbeddings: Bool(full, root, "tie_word_embeddings", false),
                MaxPositionEmbeddings: Int(full, root, "max_position_embeddings", 2048),
                BosTokenId: Int(full, root, "bos_token_id", 1),
                EosTokenId: Int(full, root, "eos_token_id", 2),
                RopeDimensionCount: headDim,
                PadTokenId: pad,
                Name: root.TryGetProperty("_name_or_path", out var nm) && nm.ValueKind == JsonValueKind.String ? nm.GetString() : null);
            config.Validate(full);
            return config;
        }
    }

    private static int Int(string path, JsonElement root, string key, int? defaultValue = null)
    {
        if (!root.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null)
            return defaultValue ?? throw new ModelFormatException(path, $"missing '{key}'");
        if (e.ValueKind == JsonValueKind.Array && key == "eos_token_id" && e.GetArrayLength() > 0)
            e = e[0]; // several EOS ids (LLaMA 3 style): the first is the primary one
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v))
            throw new ModelFormatException(path, $"'{key}' must be an integer, got {e}");
        return v;
    }

    private static float Float(string path, JsonElement root, string key, float defaultValue)
    {
        if (!root.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null)
            return defaultValue;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v))
            throw new ModelFormatException(path, $"'{key}' must be a number, got {e}");
        return (float)v;
    }

    private static bool Bool(string path, JsonElement root, string key, bool defaultValue)
    {
        if (!root.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null)
            return defaultValue;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelFormatException(path, $"'{key}' must be true or false, got {e}"),
        };
    }

    /// <summary>Reads the llama.* metadata of a GGUF file. general.architecture must be "llama".</summary>
    public static LlamaConfig FromGguf(GgufFile gguf)
    {
        string p = gguf.Path;
        string arch = gguf.GetString("general.architecture") ?? throw new ModelFormatException(p, "missing general.architecture");
        if (arch != "llama")
            throw new UnsupportedFeatureException($"{p}: architecture '{arch}' is not supported (only llama)");
        string scaling = gguf.GetString("llama.rope.scaling.type") ?? "none";
        if (scaling != "none")
            throw new UnsupportedFeatureException($"{p}: rope scaling '{scaling}' is not supported (only none)");
        if (gguf.GetUInt32("llama.expert_count", 0) > 0)
            throw new UnsupportedFeatureException($"{p}: mixture-of-experts llama models are not supported");
        if (gguf.FindTensor("rope_freqs.weight") != null)
            throw new UnsupportedFeatureException($"{p}: rope frequency factors (rope_freqs.weight, LLaMA 3.1 style) are not supported");

        int I(string key, uint? def = null)
        {
            uint v = gguf.GetUInt32(key, def);
            return v <= int.MaxValue ? (int)v : throw new ModelFormatException(p, $"metadata '{key}' = {v} is too large");
        }
        int hidden = I("llama.embedding_length");
        int heads = I("llama.attention.head_count");
        if (heads <= 0)
            throw new ModelFormatException(p, "llama.attention.head_count must be positive");
        int headDim = I("llama.attention.key_length", (uint)(hidden / heads));
        int vocab;
        var embd = gguf.FindTensor("token_embd.weight");
        if (embd != null && embd.Shape.Length == 2 && embd.Shape[0] <= int.MaxValue)
            vocab = (int)embd.Shape[0];
        else if (gguf.ContainsKey("llama.vocab_size"))
            vocab = I("llama.vocab_size");
        else
            vocab = gguf.GetStringArray("tokenizer.ggml.tokens")?.Length ?? throw new ModelFormatException(p, "cannot tell the vocabulary size: no token_embd.weight, llama.vocab_size or tokenizer.ggml.tokens");
        int? pad = gguf.ContainsKey("tokenizer.ggml.padding_token_id") ? (int)gguf.GetUInt32("tokenizer.ggml.padding_token_id") : null;
        var config = new LlamaConfig(
            HiddenSize: hidden,
            IntermediateSize: I("llama.feed_forward_length"),
            LayerCount: I("llama.block_count"),
            HeadCount: heads,
            KvHeadCount: I("llama.attention.head_count_kv", (uint)heads),
            HeadDim: headDim,
            VocabSize: vocab,
            RmsNormEps: gguf.GetFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f),
            RopeTheta: gguf.GetFloat32("llama.rope.freq_base", 10000f),
            TieWordEmbeddings: gguf.FindTensor("output.weight") == null,
            MaxPositionEmbeddings: I("llama.context_length", 2048),
            BosTokenId: I("tokenizer.ggml.bos_token_id", 1),
            EosTokenId: I("tokenizer.ggml.eos_token_id", 2),
            RopeDimensionCount: I("llama.rope.dimension_count", (uint)headDim),
            PadTokenId: pad is >= 0 ? pad : null,
            Name: gguf.GetString("general.name"));
        config.Validate(p);
        return config;
    }
}
