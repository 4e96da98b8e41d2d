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
    public GpuBuffer Qkv { get; }      // [maxTokens, (nHeads + 2 nKvHeads) * headDim] f32: q | k | v of each token, k and v before they go to the cache
    public GpuBuffer Attention { get; }// [maxTokens, nHeads * headDim] f32: attention output, before Wo
    public GpuBuffer Gate { get; }     // [maxTokens, ffDim] f32: W_gate x, then silu(gate) * up
    public GpuBuffer Up { get; }       // [maxTokens, ffDim] f32
    public GpuBuffer Logits { get; }   // [logitRows, vocab] f32
    public GpuBuffer Argmax { get; }   // { uint index, float value }: greedy choice of the last row (host-visible)
    public GpuBuffer Step { get; }     // { uint pos0 }: cache position of the first token of the pass (host-visible, written before each submit)
    public GpuBuffer DecodeInput { get; } // [dim] f32: the embedding of the token a recorded decode step starts from (host-visible)

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
            Qkv = Make((long)maxTokens * (qDim + 2 * kvDim), "act.qkv");
            Attention = Make((long)maxTokens * qDim, "act.attention");
            Gate = Make((long)maxTokens * c.IntermediateSize, "act.gate");
            Up = Make((long)maxTokens * c.IntermediateSize, "act.up");
            Logits = Make((long)LogitRows * c.VocabSize, "act.logits");
            // Read or written by the host every token: host-visible memory on every device (no staging submit).
            GpuBuffer Host(long floats, string name) { var b = new GpuBuffer(device, 4 * floats, name, GpuBuffer.Placement.HostStaging); all.Add(b); return b; }
            Argmax = Host(2, "act.argmax");
            Step = Host(4, "act.step");
            DecodeInput = Host(c.HiddenSize, "act.decode_input");
        }
        catch
        {
            foreach (var b in all) b.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var b in new[] { X, XNorm, Qkv, Attention, Gate, Up, Logits, Argmax, Step, DecodeInput }) b?.Dispose();
    }
}
