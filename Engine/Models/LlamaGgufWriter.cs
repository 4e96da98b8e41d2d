namespace Tipo.Models;

/// <summary>Writes complete LLaMA GGUF files (llama.* metadata plus every weight), e.g. random models for benchmarks.</summary>
public static class LlamaGgufWriter
{
    /// <summary>Adds the llama.* and tokenizer ids metadata of <paramref name="config"/> to <paramref name="writer"/>.</summary>
    public static void AddMetadata(GgufWriter writer, LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(config);
        writer.Add("general.architecture", "llama");
        writer.Add("general.name", config.Name ?? "synthetic");
        writer.Add("llama.context_length", (uint)config.MaxPositionEmbeddings);
        writer.Add("llama.embedding_length", (uint)config.HiddenSize);
        writer.Add("llama.feed_forward_length", (uint)config.IntermediateSize);
        writer.Add("llama.block_count", (uint)config.LayerCount);
        writer.Add("llama.attention.head_count", (uint)config.HeadCount);
        writer.Add("llama.attention.head_count_kv", (uint)config.KvHeadCount);
        if (config.HeadDim * config.HeadCount != config.HiddenSize)
            writer.Add("llama.attention.key_length", (uint)config.HeadDim);
        writer.Add("llama.rope.freq_base", config.RopeTheta);
        writer.Add("llama.rope.dimension_count", (uint)config.RopeDimensionCount);
        writer.Add("llama.attention.layer_norm_rms_epsilon", config.RmsNormEps);
        writer.Add("llama.vocab_size", (uint)config.VocabSize);
        writer.Add("tokenizer.ggml.bos_token_id", (uint)config.BosTokenId);
        writer.Add("tokenizer.ggml.eos_token_id", (uint)config.EosTokenId);
    }

    /// <summary>
    /// Writes a model with random weights: matrices of <paramref name="matrixType"/> (F32, F16, BF16 or Q8_0) drawn
    /// uniformly from ±<paramref name="scale"/>, norms of 1. Data are generated row by row, so any size streams to disk.
    /// <paramref name="extraMetadata"/> may add e.g. tokenizer.ggml.* entries.
    /// </summary>
    public static void WriteRandom(string path, LlamaConfig config, GgmlType matrixType = GgmlType.F16, int seed = 0,
        float scale = 0.02f, Action<GgufWriter>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(path);
        var writer = new GgufWriter();
        AddMetadata(writer, config);
        extraMetadata?.Invoke(writer);
        int index = 0;
        foreach (var (name, shape) in LlamaModelFile.ExpectedShapes(config))
        {
            int tensorSeed = unchecked(seed * 7919 + index++);
            if (shape.Length == 1)
            {
                var ones = new float[shape[0]];
                Array.Fill(ones, 1f);
                writer.AddTensor(name, GgmlType.F32, shape, Quantize.FromFloat32(GgmlType.F32, ones));
                continue;
            }
            long rows = shape[0];
            int cols = checked((int)shape[1]);
            writer.AddTensor(name, matrixType, shape, stream =>
            {
                var rng = new Random(tensorSeed);
                var row = new float[cols];
                for (long r = 0; r < rows; r++)
                {
                    for (int c = 0; c < cols; c++)
                        row[c] = (float)(rng.NextDouble() * 2 - 1) * scale;
                    stream.Write(Quantize.FromFloat32(matrixType, row));
                }
            });
        }
        writer.Write(path);
    }
}
