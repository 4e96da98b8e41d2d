using Tipo.Models;

namespace Tipo.Tests.Models;

/// <summary>A tiny random LLaMA (hidden 8, 2 layers, 2 heads of 4, 1 KV head, ffn 16, vocab 32) as GGUF or a HF directory.</summary>
internal static class SyntheticLlama
{
    public const int Hidden = 8, Ffn = 16, Layers = 2, Heads = 2, KvHeads = 1, HeadDim = 4, Vocab = 32;

    public static LlamaConfig Config(bool tied = false) =>
        new(Hidden, Ffn, Layers, Heads, KvHeads, HeadDim, Vocab, 1e-5f, 10000f, tied, 64, 1, 2, HeadDim);

    public static float[] Random(long n, int seed)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++)
            a[i] = (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>Canonical tensors with their expected shapes; <paramref name="edit"/> may drop (null) or reshape a tensor.</summary>
    public static List<(string Name, long[] Shape)> Tensors(bool tied, Func<string, long[], long[]?>? edit)
    {
        var list = new List<(string, long[])>();
        foreach (var (name, shape) in LlamaModelFile.ExpectedShapes(Config(tied)))
        {
            var s = edit == null ? shape : edit(name, shape);
            if (s != null)
                list.Add((name, s));
        }
        return list;
    }

    public static void WriteGguf(string path, bool tied = false, Func<string, long[], long[]?>? edit = null,
        Action<GgufWriter>? metadata = null, string architecture = "llama", GgmlType matrixType = GgmlType.F32)
    {
        var w = new GgufWriter();
        w.Add("general.architecture", architecture);
        w.Add("general.name", "synthetic");
        w.Add($"{architecture}.embedding_length", (uint)Hidden);
        w.Add($"{architecture}.feed_forward_length", (uint)Ffn);
        w.Add($"{architecture}.block_count", (uint)Layers);
        w.Add($"{architecture}.attention.head_count", (uint)Heads);
        w.Add($"{architecture}.attention.head_count_kv", (uint)KvHeads);
        w.Add($"{architecture}.context_length", 64u);
        w.Add($"{architecture}.attention.layer_norm_rms_epsilon", 1e-5f);
        w.Add($"{architecture}.rope.dimension_count", (uint)HeadDim);
        w.Add("tokenizer.ggml.tokens", Enumerable.Range(0, Vocab).Select(i => $"t{i}").ToArray());
        metadata?.Invoke(w);
        int seed = 1;
        foreach (var (name, shape) in Tensors(tied, edit))
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var data = Random(n, seed++);
            if (shape.Length == 2 && matrixType == GgmlType.F16)
                w.AddTensorF16(name, shape, data);
            else
                w.AddTensorF32(name, shape, data);
        }
        w.Write(path);
    }

    public static string HfName(string canonical)
    {
        switch (canonical)
        {
            case "token_embd.weight": return "model.embed_tokens.weight";
            case "output_norm.weight": return "model.norm.weight";
            case "output.weight": return "lm_head.weight";
        }
        var parts = canonical.Split('.');
        string suffix = parts[2] switch
        {
            "attn_norm" => "input_layernorm",
            "attn_q" => "self_attn.q_proj",
            "attn_k" => "self_attn.k_proj",
            "attn_v" => "self_attn.v_proj",
            "attn_output" => "self_attn.o_proj",
            "ffn_norm" => "post_attention_layernorm",
            "ffn_gate" => "mlp.gate_proj",
            "ffn_up" => "mlp.up_proj",
            _ => "mlp.down_proj",
        };
        return $"model.layers.{parts[1]}.{suffix}.weight";
    }

    public static string ConfigJson(bool tied = false, string extra = "") => $$"""
        {
          "architectures": ["LlamaForCausalLM"],
          "model_type": "llama",
          "hidden_size": {{Hidden}},
          "intermediate_size": {{Ffn}},
          "num_hidden_layers": {{Layers}},
          "num_attention_heads": {{Heads}},
          "num_key_value_heads": {{KvHeads}},
          "vocab_size": {{Vocab}},
          "max_position_embeddings": 64,
          "rms_norm_eps": 1e-05,
          "rope_theta": 10000.0,
          "rope_scaling": null,
          "tie_word_embeddings": {{(tied ? "true" : "false")}},
          "bos_token_id": 1,
          "eos_token_id": 2{{extra}}
        }
        """;

    /// <summary>Writes config.json and model.safetensors into a new directory under <paramref name="root"/>.</summary>
    public static string WriteHfDir(string root, bool tied = false, Func<string, long[], long[]?>? edit = null, string? configJson = null)
    {
        string dir = Path.Combine(root, "hf-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson ?? ConfigJson(tied));
        var st = new SafetensorsWriter();
        int seed = 1;
        foreach (var (name, shape) in Tensors(tied, edit))
            st.AddF32(HfName(name), shape, Random(shape.Aggregate(1L, (a, b) => a * b), seed++));
        st.Write(Path.Combine(dir, "model.safetensors"));
        return dir;
    }
}
