using System.Buffers.Binary;
using Tipo.Models;

namespace Tipo.Inference.Benchmarks;

/// <summary>A TIPO-like model shape for benchmarks with random weights.</summary>
public sealed record SyntheticShape(string Name, int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int Vocab, int Context)
{
    public long ParameterCount =>
        2L * Vocab * Hidden + Hidden
        + Layers * (2L * Hidden + (long)Hidden * Heads * (Hidden / Heads) * 2 + 2L * Hidden * KvHeads * (Hidden / Heads) + 3L * Hidden * Intermediate);
}

/// <summary>
/// Random-weight models of TIPO's shapes, written as F16 GGUF files (as TIPO's published GGUFs are), so that
/// speed can be measured without downloading anything. Weights are uniform in [-0.05, 0.05), norms 1.
/// </summary>
public static class SyntheticModels
{
    /// <summary>TIPO-100M's real shape is unpublished; this is a ~100M-parameter LLaMA in TIPO's family.</summary>
    public static readonly SyntheticShape Tipo100MLike = new("tipo-100m-like", 512, 1536, 20, 8, 8, 32013, 2048);
    /// <summary>TIPO-200M / -ft / -ft2 (config.json on Hugging Face).</summary>
    public static readonly SyntheticShape Tipo200M = new("tipo-200m", 768, 2304, 20, 12, 12, 32013, 2048);
    /// <summary>TIPO-500M / -500M-ft.</summary>
    public static readonly SyntheticShape Tipo500M = new("tipo-500m", 1280, 3840, 20, 20, 20, 32013, 2048);

    public static IReadOnlyList<SyntheticShape> All { get; } = [Tipo100MLike, Tipo200M, Tipo500M];

    public static SyntheticShape Find(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown synthetic model '{name}'; known: {string.Join(", ", All.Select(s => s.Name))}", nameof(name));

    /// <summary>Writes the shape as an F16 GGUF (F32 norms) with random weights from <paramref name="seed"/>.</summary>
    public static void WriteGguf(SyntheticShape s, string path, ulong seed = 1, GgmlType weightType = GgmlType.F16)
    {
        int headDim = s.Hidden / s.Heads;
        var w = new GgufWriter();
        w.Add("general.architecture", "llama");
        w.Add("general.name", s.Name + "-random");
        w.Add("llama.context_length", (uint)s.Context);
        w.Add("llama.embedding_length", (uint)s.Hidden);
        w.Add("llama.block_count", (uint)s.Layers);
        w.Add("llama.feed_forward_length", (uint)s.Intermediate);
        w.Add("llama.rope.dimension_count", (uint)headDim);
        w.Add("llama.attention.head_count", (uint)s.Heads);
        w.Add("llama.attention.head_count_kv", (uint)s.KvHeads);
        w.Add("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.Add("llama.rope.freq_base", 10000f);
        w.Add("llama.vocab_size", (uint)s.Vocab);

        ulong state = seed;
        void Matrix(string name, long rows, long cols) => w.AddTensor(name, weightType, [rows, cols], stream => WriteRandom(stream, weightType, rows * cols, ref state));
        void Norm(string name) => w.AddTensor(name, GgmlType.F32, [s.Hidden], stream => WriteOnes(stream, s.Hidden));

        Matrix("token_embd.weight", s.Vocab, s.Hidden);
        for (int l = 0; l < s.Layers; l++)
        {
            Norm($"blk.{l}.attn_norm.weight");
            Matrix($"blk.{l}.attn_q.weight", s.Heads * headDim, s.Hidden);
            Matrix($"blk.{l}.attn_k.weight", s.KvHeads * headDim, s.Hidden);
            Matrix($"blk.{l}.attn_v.weight", s.KvHeads * headDim, s.Hidden);
            Matrix($"blk.{l}.attn_output.weight", s.Hidden, s.Heads * headDim);
            Norm($"blk.{l}.ffn_norm.weight");
            Matrix($"blk.{l}.ffn_gate.weight", s.Intermediate, s.Hidden);
            Matrix($"blk.{l}.ffn_up.weight", s.Intermediate, s.Hidden);
            Matrix($"blk.{l}.ffn_down.weight", s.Hidden, s.Intermediate);
        }
        Norm("output_norm.weight");
        Matrix("output.weight", s.Vocab, s.Hidden);
        w.Write(path);
    }

    private static void WriteOnes(Stream stream, int n)
    {
        byte[] buf = new byte[4 * n];
        for (int i = 0; i < n; i++) BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(4 * i), 1f);
        stream.Write(buf);
    }

    private static void WriteRandom(Stream stream, GgmlType type, long count, ref ulong state)
    {
        if (type != GgmlType.F16) throw new NotSupportedException($"synthetic weights of type {type}");
        byte[] buf = new byte[1 << 16];
        long left = count;
        while (left > 0)
        {
            int n = (int)Math.Min(left, buf.Length / 2);
            for (int i = 0; i < n; i++)
            {
                state = state * 6364136223846793005UL + 1442695040888963407UL;   // PCG-style LCG step
                float u = (state >> 40) * (1f / (1 << 24)) - 0.5f;
                BinaryPrimitives.WriteHalfLittleEndian(buf.AsSpan(2 * i), (Half)(u * 0.1f));
            }
            stream.Write(buf, 0, 2 * n);
            left -= n;
        }
    }
}
