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
    /// [2 ffDim, dim] (<see cref="GpuMatrix.UploadInterleaved"/>); null when Gate and Up are separate.</summary>
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
    public static unsafe LlamaWeights Upload(VulkanDevice device, LlamaModelFile file, int gluBlockRows = 0, bool rowTiles = false)
    {
        int Tile(ModelTensor t) =>
            rowTiles && t.Shape.Length == 2 && t.Shape[1] <= int.MaxValue
                ? Kernels.MatmulKernel.RowsTileFor(device, GpuMatrix.GpuTypeFor(t.Type, t.Name), (int)t.Shape[1]) : 0;
        var weights = new LlamaWeights(file.Get("token_embd.weight"));
        try
        {
            for (int i = 0; i < file.Config.LayerCount; i++)
            {
                string p = $"blk.{i}.";
                GpuMatrix M(string name) { var t = file.Get(p + name + ".weight"); return GpuMatrix.Upload(device, t, Tile(t)); }
                ModelTensor[] qkv = [file.Get(p + "attn_q.weight"), file.Get(p + "attn_k.weight"), file.Get(p + "attn_v.weight")];
                var qkvMatrices = new List<GpuMatrix>();
                try
                {
                    if (qkv.All(t => t.Type == qkv[0].Type && t.Shape.Length == 2 && qkv[0].Shape.Length == 2 && t.Shape[1] == qkv[0].Shape[1]))
                        qkvMatrices.Add(GpuMatrix.UploadStacked(device, p + "attn_qkv", qkv, Tile(qkv[0])));
                    else
                        foreach (var t in qkv) qkvMatrices.Add(GpuMatrix.Upload(device, t, Tile(t)));
                }
                catch
                {
                    foreach (var m in qkvMatrices) m.Dispose();
                    throw;
                }
                ModelTensor gate = file.Get(p + "ffn_gate.weight"), up = file.Get(p + "ffn_up.weight");
                bool interleave = gluBlockRows > 0 && CanInterleave(device, gate, up, gluBlockRows);
                weights._layers.Add(new LayerWeights
                {
                    AttnNorm = UploadVector(device, file.Get(p + "attn_norm.weight")),
                    Qkv = qkvMatrices, O = M("attn_output"),
                    FfnNorm = UploadVector(device, file.Get(p + "ffn_norm.weight")),
                    Gate = interleave ? null : M("ffn_gate"), Up = interleave ? null : M("ffn_up"),
                    GateUp = interleave
                        ? GpuMatrix.UploadInterleaved(device, p + "ffn_gate_up", gate.Type, (int)gate.Shape[0], (int)gate.Shape[1], gate.Data, up.Data, gluBlockRows, Tile(gate))
                        : null,
                    Down = M("ffn_down"),
                });
            }
            weights.OutputNorm = UploadVector(device, file.Get("output_norm.weight"));
            ModelTensor output = file.Has("output.weight") ? file.Get("output.weight") : file.Get("token_embd.weight");
            weights.Output = GpuMatrix.Upload(device, output, Tile(output));
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
    private static bool CanInterleave(VulkanDevice device, ModelTensor gate, ModelTensor up, int blockRows)
    {
        if (gate.Type != up.Type || gate.Shape.Length != 2 || !gate.Shape.SequenceEqual(up.Shape) || gate.Shape[0] % blockRows != 0)
            return false;
        GgmlType gpuType = GpuMatrix.GpuTypeFor(gate.Type, gate.Name);
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
