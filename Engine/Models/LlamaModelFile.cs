using System.Text.RegularExpressions;
using Tipo.Errors;

namespace Tipo.Models;

/// <summary>How the model's files are stored.</summary>
public enum ModelFormat
{
    Gguf,
    SafetensorsDir,
}

/// <summary>Which pairs of a head's dimensions RoPE rotates together.</summary>
public enum RopeLayout
{
    /// <summary>Pairs (2i, 2i+1): GGUF files, whose converter permutes the Q/K rows of Hugging Face weights.</summary>
    Interleaved,
    /// <summary>Pairs (i, i + headDim/2): Hugging Face safetensors weights.</summary>
    RotateHalf,
}

/// <summary>
/// A LLaMA model on disk: a GGUF file or a Hugging Face directory (config.json + safetensors). The entry point
/// for loading. Tensors are exposed under GGUF's canonical names, memory-mapped, and validated against the config.
/// </summary>
public sealed partial class LlamaModelFile : IDisposable
{
    private readonly Dictionary<string, ModelTensor> _tensors;
    private readonly List<IDisposable> _owned;
    private bool _disposed;

    /// <summary>The GGUF file, or the Hugging Face directory.</summary>
    public string Path { get; }
    public LlamaConfig Config { get; }
    public RopeLayout RopeLayout { get; }
    public ModelFormat Format { get; }
    /// <summary>The GGUF file (tokenizer metadata lives here); null for Hugging Face directories.</summary>
    public GgufFile? Gguf { get; }
    /// <summary>The Hugging Face directory (tokenizer files live here); null for GGUF.</summary>
    public string? HuggingFaceDirectory { get; }
    /// <summary>The model's tensors in canonical names, token_embd first, then output_norm, output, then layer by layer.</summary>
    public IReadOnlyList<ModelTensor> Tensors { get; }
    /// <summary>Tensors in the files that are not LLaMA weights (ignored), by source name.</summary>
    public IReadOnlyList<string> IgnoredTensorNames { get; }
    public long ParameterCount { get; }
    public long TotalBytes { get; }

    private LlamaModelFile(string path, LlamaConfig config, RopeLayout layout, ModelFormat format, GgufFile? gguf, string? hfDir,
        List<ModelTensor> tensors, List<string> ignored, List<IDisposable> owned)
    {
        Path = path;
        Config = config;
        RopeLayout = layout;
        Format = format;
        Gguf = gguf;
        HuggingFaceDirectory = hfDir;
        _owned = owned;
        IgnoredTensorNames = ignored;
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Tensors = tensors.OrderBy(t => SortKey(t.Name)).ToList();
        ParameterCount = tensors.Sum(t => t.ElementCount);
        TotalBytes = tensors.Sum(t => t.ByteSize);
    }

    private static (int, int, string) SortKey(string name)
    {
        if (name.StartsWith("blk.", StringComparison.Ordinal))
        {
            int dot = name.IndexOf('.', 4);
            int layer = int.Parse(name.AsSpan(4, dot - 4), System.Globalization.CultureInfo.InvariantCulture);
            int order = Array.IndexOf(LayerTensorOrder, name[(dot + 1)..]);
            return (1 + layer, order, name);
        }
        return name switch
        {
            "token_embd.weight" => (0, 0, name),
            _ => (int.MaxValue, name == "output_norm.weight" ? 0 : 1, name),
        };
    }

    private static readonly string[] LayerTensorOrder =
    [
        "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
        "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
    ];

    /// <summary>Canonical names of the per-layer weights, without the "blk.{i}." prefix.</summary>
    public static IReadOnlyList<string> LayerTensorNames => LayerTensorOrder;

    public static string LayerTensorName(int layer, string suffix) => $"blk.{layer}.{suffix}";

    /// <summary>
    /// Opens a GGUF file, a Hugging Face directory, or a path inside one (its config.json, model.safetensors or
    /// model.safetensors.index.json).
    /// </summary>
    public static LlamaModelFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            return OpenHuggingFace(full);
        if (!File.Exists(full))
            throw new ModelFormatException(full, "no such file or directory");
        string fileName = System.IO.Path.GetFileName(full);
        if (GgufFile.HasMagic(full))
            return OpenGguf(full);
        if (fileName.Equals("config.json", StringComparison.OrdinalIgnoreCase)
            || fileName.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
            || fileName.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase))
            return OpenHuggingFace(System.IO.Path.GetDirectoryName(full)!);
        if (fileName.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            return OpenGguf(full); // reports the bad magic
        throw new ModelFormatException(full, "not a model: expected a .gguf file or a Hugging Face directory with config.json and model.safetensors");
    }

    private static LlamaModelFile OpenGguf(string path)
    {
        var gguf = GgufFile.Open(path);
        try
        {
            var config = LlamaConfig.FromGguf(gguf);
            var tensors = new List<ModelTensor>();
            var ignored = new List<string>();
            LlamaModelFile? model = null;
            Func<bool> isOpen = () => model is { _disposed: false };
            foreach (var t in gguf.Tensors)
            {
                if (IsCanonical(t.Name, config.LayerCount))
                    tensors.Add(CreateTensor(t.Name, gguf.Path, t, gguf, isOpen));
                else
                    ignored.Add(t.Name);
            }
            Validate(path, config, tensors);
            model = new LlamaModelFile(path, config, RopeLayout.Interleaved, ModelFormat.Gguf, gguf, null, tensors, ignored, [gguf]);
            return model;
        }
        catch
        {
            gguf.Dispose();
            throw;
        }
    }

    private static unsafe ModelTensor CreateTensor(string name, string file, TensorInfo info, GgufFile f, Func<bool> isOpen) =>
        new(name, file, info, f.BasePointer, isOpen);

    private static unsafe ModelTensor CreateTensor(string name, TensorInfo info, SafetensorsFile f, Func<bool> isOpen) =>
        new(name, f.Path, info, f.BasePointer, isOpen);

    private static LlamaModelFile OpenHuggingFace(string dir)
    {
        string configPath = System.IO.Path.Combine(dir, "config.json");
        if (!File.Exists(configPath))
            throw new ModelFormatException(dir, "not a GGUF file or a Hugging Face model directory (no config.json)");
        var config = LlamaConfig.FromConfigJson(configPath);
        var st = SafetensorsDirectory.Open(dir);
        try
        {
            var tensors = new List<ModelTensor>();
            var ignored = new List<string>();
            LlamaModelFile? model = null;
            Func<bool> isOpen = () => model is { _disposed: false };
            foreach (var (file, t) in st.Tensors)
            {
                string? canonical = CanonicalFromHf(t.Name);
                if (canonical == "output.weight" && config.TieWordEmbeddings)
                    canonical = null; // tied: the embedding is the output projection
                if (canonical != null && IsCanonical(canonical, config.LayerCount))
                    tensors.Add(CreateTensor(canonical, t, file, isOpen));
                else
                    ignored.Add(t.Name);
            }
            Validate(dir, config, tensors);
            model = new LlamaModelFile(dir, config, RopeLayout.RotateHalf, ModelFormat.SafetensorsDir, null, dir, tensors, ignored, [st]);
            return model;
        }
        catch
        {
            st.Dispose();
            throw;
        }
    }

    [GeneratedRegex(@"^blk\.(\d+)\.(attn_norm|attn_q|attn_k|attn_v|attn_output|ffn_norm|ffn_gate|ffn_up|ffn_down)\.weight$")]
    private static partial Regex CanonicalLayerRegex();

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(input_layernorm|self_attn\.q_proj|self_attn\.k_proj|self_attn\.v_proj|self_attn\.o_proj|post_attention_layernorm|mlp\.gate_proj|mlp\.up_proj|mlp\.down_proj)\.weight$")]
    private static partial Regex HfLayerRegex();

    private static bool IsCanonical(string name, int layers)
    {
        if (name is "token_embd.weight" or "output_norm.weight" or "output.weight")
            return true;
        var m = CanonicalLayerRegex().Match(name);
        return m.Success && int.TryParse(m.Groups[1].ValueSpan, out int layer) && layer < layers && m.Groups[1].Value == layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Maps a Hugging Face LLaMA tensor name to its canonical GGUF name; null for names that are not LLaMA weights.</summary>
    public static string? CanonicalFromHf(string hfName)
    {
        switch (hfName)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        var m = HfLayerRegex().Match(hfName);
        if (!m.Success)
            return null;
        string suffix = m.Groups[2].Value switch
        {
            "input_layernorm" => "attn_norm",
            "self_attn.q_proj" => "attn_q",
            "self_attn.k_proj" => "attn_k",
            "self_attn.v_proj" => "attn_v",
            "self_attn.o_proj" => "attn_output",
            "post_attention_layernorm" => "ffn_norm",
            "mlp.gate_proj" => "ffn_gate",
            "mlp.up_proj" => "ffn_up",
            _ => "ffn_down",
        };
        return $"blk.{m.Groups[1].Value}.{suffix}.weight";
    }

    /// <summary>The expected shape (outer first) of every canonical tensor of <paramref name="config"/>; output.weight only when untied.</summary>
    public static IEnumerable<(string Name, long[] Shape)> ExpectedShapes(LlamaConfig config)
    {
        long h = config.HiddenSize, ff = config.IntermediateSize, q = (long)config.HeadCount * config.HeadDim, kv = (long)config.KvHeadCount * config.HeadDim;
        yield return ("token_embd.weight", [config.VocabSize, h]);
        yield return ("output_norm.weight", [h]);
        if (!config.TieWordEmbeddings)
            yield return ("output.weight", [config.VocabSize, h]);
        for (int i = 0; i < config.LayerCount; i++)
        {
            yield return (LayerTensorName(i, "attn_norm.weight"), [h]);
            yield return (LayerTensorName(i, "attn_q.weight"), [q, h]);
            yield return (LayerTensorName(i, "attn_k.weight"), [kv, h]);
            yield return (LayerTensorName(i, "attn_v.weight"), [kv, h]);
            yield return (LayerTensorName(i, "attn_output.weight"), [h, q]);
            yield return (LayerTensorName(i, "ffn_norm.weight"), [h]);
            yield return (LayerTensorName(i, "ffn_gate.weight"), [ff, h]);
            yield return (LayerTensorName(i, "ffn_up.weight"), [ff, h]);
            yield return (LayerTensorName(i, "ffn_down.weight"), [h, ff]);
        }
    }

    private static void Validate(string path, LlamaConfig config, List<ModelTensor> tensors)
    {
        // Each layer needs 9 tensors: a layer count far beyond what the files hold is reported before enumerating the
        // expected names (a count of 10,000,000 would otherwise build 90 million names and take minutes).
        if (config.LayerCount > tensors.Count)
            throw new ModelFormatException(path, $"the config says {config.LayerCount} layers, but the model files hold only {tensors.Count} LLaMA tensors (each layer needs 9)");
        var byName = new Dictionary<string, ModelTensor>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!byName.TryAdd(t.Name, t))
                throw new ModelFormatException(t.FileName, $"tensor {t.Name} appears twice ({byName[t.Name].SourceName} and {t.SourceName})");
        }
        var missing = new List<string>();
        foreach (var (name, shape) in ExpectedShapes(config))
        {
            if (!byName.TryGetValue(name, out var t))
            {
                missing.Add(name);
                continue;
            }
            if (!t.Shape.SequenceEqual(shape))
                throw new ModelFormatException(t.FileName,
                    $"tensor {t.Name} ({t.SourceName}) has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}] from the config");
        }
        if (missing.Count > 0)
            throw new ModelFormatException(path, $"missing tensor{(missing.Count > 1 ? "s" : "")}: {string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? $" and {missing.Count - 10} more" : "")}");
    }

    public bool Has(string canonicalName) => _tensors.ContainsKey(canonicalName);

    /// <summary>The tensor under its canonical name. output.weight is absent when the embeddings are tied: use token_embd.weight.</summary>
    public ModelTensor Get(string canonicalName)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_tensors.TryGetValue(canonicalName, out var t))
            return t;
        string hint = canonicalName == "output.weight" && Config.TieWordEmbeddings ? " (embeddings are tied: use token_embd.weight)" : "";
        throw new ModelFormatException(Path, $"tensor {canonicalName} not found{hint}");
    }

    /// <summary>The output projection: output.weight, or token_embd.weight when tied.</summary>
    public ModelTensor OutputWeight => Has("output.weight") ? Get("output.weight") : Get("token_embd.weight");

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var d in _owned)
            d.Dispose();
    }
}
