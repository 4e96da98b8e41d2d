using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference;

/// <summary>
/// The scratch buffers of one forward pass over at most <see cref="MaxTokens"/> tokens at a time
/// (a prefill chunk, or 1 token when decoding). Allocated once per loaded model.
/// </summary>
public sealed class Activations : IDisposable
{
    public int MaxTokens { get; }
    public int LogitRows { get; }

    public GpuBuffer X { get; }        // [maxTokens, dim] f32: the residual stream
    public GpuBuffer XNorm { get; }    // [maxTokens, dim] f32: RMSNorm(X)
    public GpuBuffer Q { get; }        // [maxTokens, nHeads * headDim] f32
    public GpuBuffer K { get; }        // [maxTokens, nKvHeads * headDim] f32, before it is stored in the cache
    public GpuBuffer V { get; }        // [maxTokens, nKvHeads * headDim] f32
    public GpuBuffer Attention { get; }// [maxTokens, nHeads * headDim] f32: attention output, before Wo
    public GpuBuffer Gate { get; }     // [maxTokens, ffDim] f32: W_gate x, then silu(gate) * up
    public GpuBuffer Up { get; }       // [maxTokens, ffDim] f32
    public GpuBuffer Logits { get; }   // [logitRows, vocab] f32
    public GpuBuffer Argmax { get; }   // { uint index, float value }: greedy choice of the last row

    public Activations(VulkanDevice device, LlamaConfig c, int maxTokens)
    {
        MaxTokens = maxTokens;
        // Logits of every row are only asked for in teacher-forced evaluation; keep that buffer within one binding.
        long rowBytes = 4L * c.VocabSize;
        LogitRows = (int)Math.Max(1, Math.Min(maxTokens, (long)Math.Min(device.Info.MaxStorageBufferRange, 256UL << 20) / rowBytes));
        int qDim = c.HeadCount * c.HeadDim, kvDim = c.KvHeadCount * c.HeadDim;
        var all = new List<GpuBuffer>();
        GpuBuffer Make(long floats, string name) { var b = new GpuBuffer(device, 4 * floats, name); all.Add(b); return b; }
        try
        {
            X = Make((long)maxTokens * c.HiddenSize, "act.x");
            XNorm = Make((long)maxTokens * c.HiddenSize, "act.x_norm");
            Q = Make((long)maxTokens * qDim, "act.q");
            K = Make((long)maxTokens * kvDim, "act.k");
            V = Make((long)maxTokens * kvDim, "act.v");
            Attention = Make((long)maxTokens * qDim, "act.attention");
            Gate = Make((long)maxTokens * c.IntermediateSize, "act.gate");
            Up = Make((long)maxTokens * c.IntermediateSize, "act.up");
            Logits = Make((long)LogitRows * c.VocabSize, "act.logits");
            Argmax = Make(2, "act.argmax");
        }
        catch
        {
            foreach (var b in all) b.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var b in new[] { X, XNorm, Q, K, V, Attention, Gate, Up, Logits, Argmax }) b?.Dispose();
    }
}
