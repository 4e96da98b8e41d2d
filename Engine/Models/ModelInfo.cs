using System.Globalization;

namespace Tipo.Models;

/// <summary>The human-readable description printed by <c>tipo info</c>.</summary>
public static class ModelInfo
{
    /// <summary>Writes the description of <paramref name="m"/>.</summary>
    public static void Write(TextWriter o, LlamaModelFile m, bool listTensors)
    {
        var c = m.Config;
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"model:                  {m.Path}");
        o.WriteLine($"format:                 {(m.Format == ModelFormat.Gguf ? $"GGUF v{m.Gguf!.Version}" : "Hugging Face safetensors directory")}");
        o.WriteLine("architecture:           llama");
        if (c.Name != null)
            o.WriteLine($"name:                   {c.Name}");
        o.WriteLine($"hidden size:            {c.HiddenSize}");
        o.WriteLine($"intermediate size:      {c.IntermediateSize}");
        o.WriteLine($"layers:                 {c.LayerCount}");
        o.WriteLine($"attention heads:        {c.HeadCount}");
        o.WriteLine($"kv heads:               {c.KvHeadCount}");
        o.WriteLine($"head dim:               {c.HeadDim}");
        o.WriteLine($"vocab size:             {c.VocabSize}");
        o.WriteLine($"context length:         {c.MaxPositionEmbeddings}");
        o.WriteLine($"rms norm eps:           {c.RmsNormEps.ToString("R", inv)}");
        o.WriteLine($"rope theta:             {c.RopeTheta.ToString("R", inv)}");
        o.WriteLine($"rope dimensions:        {c.RopeDimensionCount}");
        o.WriteLine($"rope layout:            {(m.RopeLayout == RopeLayout.Interleaved ? "interleaved pairs (GGUF)" : "rotate-half (Hugging Face)")}");
        o.WriteLine($"tied embeddings:        {(c.TieWordEmbeddings ? "yes" : "no")}");
        o.WriteLine($"bos / eos token:        {c.BosTokenId} / {c.EosTokenId}{(c.PadTokenId is { } pad ? $" (pad {pad})" : "")}");
        o.WriteLine($"parameters:             {m.ParameterCount.ToString("N0", inv)} ({FormatCount(m.ParameterCount)})");
        o.WriteLine($"tensor bytes:           {m.TotalBytes.ToString("N0", inv)} ({FormatBytes(m.TotalBytes)})");
        o.WriteLine($"tensors:                {m.Tensors.Count}");
        foreach (var g in m.Tensors.GroupBy(t => t.Type).OrderBy(g => g.Key))
        {
            string note = GgmlTypeInfo.IsSupportedForCompute(g.Key) ? "" : "  (not supported for compute yet)";
            o.WriteLine($"  {GgmlTypeInfo.Name(g.Key),-8} {g.Count(),5} tensors  {FormatBytes(g.Sum(t => t.ByteSize)),10}{note}");
        }
        if (m.IgnoredTensorNames.Count > 0)
            o.WriteLine($"ignored tensors:        {string.Join(", ", m.IgnoredTensorNames)}");
        if (!listTensors)
            return;
        o.WriteLine();
        int width = m.Tensors.Max(t => t.Name.Length);
        foreach (var t in m.Tensors)
        {
            string source = t.SourceName != t.Name ? $"  <- {t.SourceName}" : "";
            o.WriteLine($"{t.Name.PadRight(width)}  {GgmlTypeInfo.Name(t.Type),-6} [{string.Join(", ", t.Shape)}]{source}");
        }
    }

    private static string FormatCount(long n) => n switch
    {
        >= 1_000_000_000 => (n / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (n / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (n / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "K",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };

    private static string FormatBytes(long n) => n switch
    {
        >= 1L << 30 => (n / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (n / (double)(1L << 20)).ToString("0.00", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (n / (double)(1L << 10)).ToString("0.00", CultureInfo.InvariantCulture) + " KiB",
        _ => n.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
