using System.Buffers.Binary;
using Tipo.Models;
using Tipo.Models.Quantization;

namespace Tipo.Inference.Benchmarks;

/// <summary>A TIPO-like model shape for benchmarks with random weights.</summary>
public sealed record SyntheticShape(string Name, int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int Vocab, int Context)
{
    public long ParameterCount =>
        2L * Vocab * Hidden + Hidden
        + Layers * (2L * Hidden + (long)Hidden * Heads * (Hidden / Heads) * 2 + 2L * Hidden * KvHeads * (Hidden / Heads) + 3L * Hidden * Intermediate);
}

/// <summary>How the matrices of a synthetic model are stored.</summary>
public enum SyntheticWeightType
{
    /// <summary>Every matrix F16, as TIPO's published GGUFs are.</summary>
    F16,
    /// <summary>
    /// llama-quantize Q4_K_M's mix: Q4_K, with Q6_K for output.weight and for attn_v / ffn_down on the layers
    /// llama.cpp's use_more_bits picks (the first and last eighth and every third between: half of them).
    /// </summary>
    Q4_K_M,
    /// <summary>Every matrix Q8_0.</summary>
    Q8_0,
}

/// <summary>
/// Random-weight models of TIPO's shapes, written as GGUF files (F16 as TIPO's published GGUFs are, or a
/// Q4_K_M mix), so that speed can be measured without downloading anything. Weights are uniform in
/// [-0.05, 0.05) before any quantisation (the same values for every weight type and seed), norms 1.
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

    /// <summary>Writes the shape as a GGUF of <paramref name="weightType"/> (F32 norms) with random weights from <paramref name="seed"/>.</summary>
    public static void WriteGguf(SyntheticShape s, string path, ulong seed = 1, SyntheticWeightType weightType = SyntheticWeightType.F16)
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
        void Matrix(string name, long rows, long cols, GgmlType type) => w.AddTensor(name, type, [rows, cols], stream => WriteRandom(stream, type, rows * cols, ref state));
        bool q4km = weightType == SyntheticWeightType.Q4_K_M;
        GgmlType baseType = q4km ? GgmlType.Q4_K : weightType == SyntheticWeightType.Q8_0 ? GgmlType.Q8_0 : GgmlType.F16;
        GgmlType MoreBits(int layer) => q4km && UseMoreBits(layer, s.Layers) ? GgmlType.Q6_K : baseType;
        void Norm(string name) => w.AddTensor(name, GgmlType.F32, [s.Hidden], stream => WriteOnes(stream, s.Hidden));

        Matrix("token_embd.weight", s.Vocab, s.Hidden, baseType);
        for (int l = 0; l < s.Layers; l++)
        {
            Norm($"blk.{l}.attn_norm.weight");
            Matrix($"blk.{l}.attn_q.weight", s.Heads * headDim, s.Hidden, baseType);
            Matrix($"blk.{l}.attn_k.weight", s.KvHeads * headDim, s.Hidden, baseType);
            Matrix($"blk.{l}.attn_v.weight", s.KvHeads * headDim, s.Hidden, MoreBits(l));
            Matrix($"blk.{l}.attn_output.weight", s.Hidden, s.Heads * headDim, baseType);
            Norm($"blk.{l}.ffn_norm.weight");
            Matrix($"blk.{l}.ffn_gate.weight", s.Intermediate, s.Hidden, baseType);
            Matrix($"blk.{l}.ffn_up.weight", s.Intermediate, s.Hidden, baseType);
            Matrix($"blk.{l}.ffn_down.weight", s.Hidden, s.Intermediate, MoreBits(l));
        }
        Norm("output_norm.weight");
        Matrix("output.weight", s.Vocab, s.Hidden, q4km ? GgmlType.Q6_K : baseType);
        w.Write(path);
    }

    private static void WriteOnes(Stream stream, int n)
    {
        byte[] buf = new byte[4 * n];
        for (int i = 0; i < n; i++) BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(4 * i), 1f);
        stream.Write(buf);
    }

    /// <summary>llama.cpp's use_more_bits: the layers whose attn_v / ffn_down Q4_K_M keeps at Q6_K.</summary>
    public static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static void WriteRandom(Stream stream, GgmlType type, long count, ref ulong state)
    {
        const int Chunk = 1 << 15;   // elements per step: whole 256-element blocks
        float[] values = new float[Chunk];
        byte[] buf = new byte[GgmlTypeInfo.TensorBytes(type, Chunk)];
        long left = count;
        while (left > 0)
        {
            int n = (int)Math.Min(left, Chunk);
            for (int i = 0; i < n; i++)
            {
                state = state * 6364136223846793005UL + 1442695040888963407UL;   // PCG-style LCG step
                values[i] = ((state >> 40) * (1f / (1 << 24)) - 0.5f) * 0.1f;
            }
            var x = values.AsSpan(0, n);
            int bytes = checked((int)GgmlTypeInfo.TensorBytes(type, n));
            var y = buf.AsSpan(0, bytes);
            switch (type)
            {
                case GgmlType.F16:
                    for (int i = 0; i < n; i++) BinaryPrimitives.WriteHalfLittleEndian(y[(2 * i)..], (Half)x[i]);
                    break;
                case GgmlType.Q4_K: KQuantize.Q4_K(x, y); break;
                case GgmlType.Q8_0: Quantize.Q8_0(x, y); break;
                case GgmlType.Q6_K: KQuantize.Q6_K(x, y); break;
                default: throw new NotSupportedException($"synthetic weights of type {type}");
            }
            stream.Write(y);
            left -= n;
        }
    }
}
