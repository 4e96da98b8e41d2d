using Tipo.Errors;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference;

/// <summary>The weights of one transformer block on the GPU.</summary>
public sealed class LayerWeights : IDisposable
{
    public required GpuBuffer AttnNorm { get; init; }   // [dim] f32
    /// <summary>
    /// W_q, W_k and W_v stacked by rows: [(nHeads + 2 nKvHeads) * headDim, dim], one matrix when the three share a type
    /// (one dispatch), else the three in that order (quantised files often keep V at a higher precision).
    /// </summary>
    public required IReadOnlyList<GpuMatrix> Qkv { get; init; }
    public required GpuMatrix O { get; init; }          // [dim, nHeads * headDim]
    public required GpuBuffer FfnNorm { get; init; }    // [dim] f32
    public GpuMatrix? Gate { get; init; }               // [ffDim, dim]  (null when GateUp holds it)
    public GpuMatrix? Up { get; init; }                 // [ffDim, dim]  (null when GateUp holds it)
    /// <summary>W_gate and W_up interleaved in blocks of rows for the fused SwiGLU matmul of CPU devices:
    /// [2 ffDim, dim] (<see cref="GpuMatrix.UploadInterleaved(VulkanDevice, string, GgmlType, int, int, byte*, byte*, int, int, QuantsAsF16)"/>); null when Gate and Up are separate.</summary>
    public GpuMatrix? GateUp { get; init; }
    public required GpuMatrix Down { get; init; }       // [dim, ffDim]

    public IEnumerable<GpuMatrix> Matrices => new[] { O, Gate, Up, GateUp, Down }.Where(m => m != null).Select(m => m!).Concat(Qkv);

    public void Dispose()
    {
        AttnNorm.Dispose(); FfnNorm.Dispose();
        foreach (var m in Matrices) m.Dispose();
    }
}

/// <summary>
/// All weights of a LLaMA model on the GPU, plus the token embedding table, which stays memory-mapped on
/// the host: a lookup reads one row per token, so it is done on the CPU and uploaded with the activations.
/// </summary>
public sealed class LlamaWeights : IDisposable
{
    private readonly List<LayerWeights> _layers = [];

    public IReadOnlyList<LayerWeights> Layers => _layers;
    public ModelTensor TokenEmbedding { get; }          // [vocab, dim] host, any supported type
    public GpuBuffer OutputNorm { get; private set; } = null!;   // [dim] f32
    public GpuMatrix Output { get; private set; } = null!;       // [vocab, dim] (token_embd when tied)

    /// <summary>Bytes of all GPU weights: what one decode step reads.</summary>
    public long GpuBytes => _layers.Sum(l => l.Matrices.Sum(m => m.SizeBytes) + l.AttnNorm.SizeBytes + l.FfnNorm.SizeBytes)
                            + OutputNorm.SizeBytes + Output.SizeBytes;

    private LlamaWeights(ModelTensor tokenEmbedding) => TokenEmbedding = tokenEmbedding;

    /// <param name="gluBlockRows">When positive, gate and up are uploaded interleaved in blocks of this many rows (see
    /// <see cref="LayerWeights.GateUp"/>) where the type has the fused kernel, the rows divide evenly and the pair fits one
    /// binding; 0 keeps them separate.</param>
    /// <param name="rowTiles">Store the matrices the rows-per-lane kernels take in their row tiles
    /// (<see cref="Kernels.MatmulKernel.RowsTileFor"/>, <see cref="GpuMatrix.TileRows"/>); false keeps every matrix row-major.</param>
    /// <param name="qkToRotateHalf">Reorder the rows of every head of W_q and W_k from GGUF's interleaved rotation pairs
    /// (2i, 2i+1) to rotate-half pairs (i, i + headDim/2), undoing the converter's permutation: q and k then come out in
    /// Hugging Face order and are roped with <see cref="RopeLayout.RotateHalf"/> (for the rows-per-lane QKV matmul, which
    /// ropes pairs within a lane). Attention scores do not change: q and k share the order.</param>
    /// <param name="quantsAsF16">Which quantised matrices to keep as F16, dequantised at upload
    /// (<see cref="GpuMatrix.GpuTypeFor"/>): for the rows-per-lane kernels of CPU devices, which read F32, F16 and Q8_0
    /// only (the split-k kernels of the other types run ~25x slower on lavapipe), and Q8_0 too where its rows-per-lane
    /// kernel runs slower than F16's.</param>
    public static unsafe LlamaWeights Upload(VulkanDevice device, LlamaModelFile file, int gluBlockRows = 0, bool rowTiles = false, bool qkToRotateHalf = false,
        QuantsAsF16 quantsAsF16 = QuantsAsF16.None)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (qkToRotateHalf && file.RopeLayout != RopeLayout.Interleaved)
            throw new ArgumentException($"{file.Path}: its Q/K rows are already in rotate-half order", nameof(qkToRotateHalf));
        int headDim = file.Config.HeadDim;
        // With qkToRotateHalf, the file row each row of W_q or W_k is taken from: per head rows 0, 2, 4, ..., then 1, 3, 5, ...
        // (rotate-half pair (i, i + headDim/2) was interleaved pair (2i, 2i+1)); null keeps the file's order.
        int[]? QkOrder(ModelTensor t)
        {
            if (!qkToRotateHalf)
                return null;
            if (t.Shape.Length != 2 || headDim % 2 != 0 || t.Shape[0] % headDim != 0)
                throw new ModelFormatException(t.FileName, $"tensor {t.SourceName} of shape [{string.Join(", ", t.Shape)}] is not whole heads of {headDim} rows");
            return Enumerable.Range(0, checked((int)t.Shape[0]))
                .Select(r => r / headDim * headDim + (r % headDim < headDim / 2 ? 2 * (r % headDim) : 2 * (r % headDim - headDim / 2) + 1))
                .ToArray();
        }
        int Tile(ModelTensor t) =>
            rowTiles && t.Shape.Length == 2 && t.Shape[1] <= int.MaxValue
                ? Kernels.MatmulKernel.RowsTileFor(device, GpuMatrix.GpuTypeFor(t.Type, t.Name, quantsAsF16), (int)t.Shape[1]) : 0;
        var weights = new LlamaWeights(file.Get("token_embd.weight"));
        try
        {
            for (int i = 0; i < file.Config.LayerCount; i++)
            {
                string p = $"blk.{i}.";
                GpuMatrix M(string name) { var t = file.Get(p + name + ".weight"); return GpuMatrix.Upload(device, t, Tile(t), quantsAsF16); }
                ModelTensor[] qkv = [file.Get(p + "attn_q.weight"), file.Get(p + "attn_k.weight"), file.Get(p + "attn_v.weight")];
                var qkvMatrices = new List<GpuMatrix>();
                try
                {
                    int[]?[] orders = [QkOrder(qkv[0]), QkOrder(qkv[1]), null];
                    if (GpuMatrix.CanStack(qkv, quantsAsF16))
                        qkvMatrices.Add(GpuMatrix.UploadStacked(device, p + "attn_qkv", qkv, Tile(qkv[0]), orders, quantsAsF16));
                    else
                        for (int m = 0; m < qkv.Length; m++)
                            qkvMatrices.Add(orders[m] == null ? GpuMatrix.Upload(device, qkv[m], Tile(qkv[m]), quantsAsF16)
                                : GpuMatrix.UploadStacked(device, qkv[m].Name, [qkv[m]], Tile(qkv[m]), [orders[m]], quantsAsF16));
                }
                catch
                {
                    foreach (var m in qkvMatrices) m.Dispose();
                    throw;
                }
                ModelTensor gate = file.Get(p + "ffn_gate.weight"), up = file.Get(p + "ffn_up.weight");
                bool interleave = gluBlockRows > 0 && CanInterleave(device, gate, up, gluBlockRows, quantsAsF16);
                weights._layers.Add(new LayerWeights
                {
                    AttnNorm = UploadVector(device, file.Get(p + "attn_norm.weight")),
                    Qkv = qkvMatrices, O = M("attn_output"),
                    FfnNorm = UploadVector(device, file.Get(p + "ffn_norm.weight")),
                    Gate = interleave ? null : M("ffn_gate"), Up = interleave ? null : M("ffn_up"),
                    GateUp = interleave
                        ? GpuMatrix.UploadInterleaved(device, p + "ffn_gate_up", gate.Type, (int)gate.Shape[0], (int)gate.Shape[1], gate.Data, up.Data, gluBlockRows, Tile(gate), quantsAsF16)
                        : null,
                    Down = M("ffn_down"),
                });
            }
            weights.OutputNorm = UploadVector(device, file.Get("output_norm.weight"));
            ModelTensor output = file.Has("output.weight") ? file.Get("output.weight") : file.Get("token_embd.weight");
            weights.Output = GpuMatrix.Upload(device, output, Tile(output), quantsAsF16);
            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Whether gate and up can be one interleaved matrix for the fused SwiGLU kernel: the same type and shape,
    /// rows in whole blocks, a type and width the kernel takes, and one binding for the pair.</summary>
    private static bool CanInterleave(VulkanDevice device, ModelTensor gate, ModelTensor up, int blockRows, QuantsAsF16 quantsAsF16)
    {
        if (gate.Type != up.Type || gate.Shape.Length != 2 || !gate.Shape.SequenceEqual(up.Shape) || gate.Shape[0] % blockRows != 0)
            return false;
        GgmlType gpuType = GpuMatrix.GpuTypeFor(gate.Type, gate.Name, quantsAsF16);
        int cols = (int)gate.Shape[1];
        long pairBytes = 2 * GpuMatrix.GpuRowBytes(gpuType, cols) * gate.Shape[0];
        return Kernels.MatmulKernel.HasFusedRowsVariants(gpuType) && Kernels.MatmulKernel.RowsLayoutFits(device, gpuType, cols) &&
               pairBytes <= (long)Math.Min(device.Info.MaxStorageBufferRange, int.MaxValue);
    }

    private static GpuBuffer UploadVector(VulkanDevice device, ModelTensor tensor)
    {
        float[] values = tensor.ToFloat32();
        var buffer = new GpuBuffer(device, 4L * values.Length, tensor.Name);
        buffer.Upload<float>(values);
        return buffer;
    }

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
        OutputNorm?.Dispose();
        Output?.Dispose();
    }
}
