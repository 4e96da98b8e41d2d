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
    public GpuBuffer Logits { get; }   // [logitRows, vocab] f32 (host-visible, host-cached where possible)
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
        GpuBuffer Make(long floats, string name, GpuBuffer.Placement placement = GpuBuffer.Placement.Auto)
        {
            var b = new GpuBuffer(device, 4 * floats, name, placement);
            all.Add(b);
            return b;
        }
        try
        {
            X = Make((long)maxTokens * c.HiddenSize, "act.x");
            XNorm = Make((long)maxTokens * c.HiddenSize, "act.x_norm");
            Qkv = Make((long)maxTokens * (qDim + 2 * kvDim), "act.qkv");
            Attention = Make((long)maxTokens * qDim, "act.attention");
            Gate = Make((long)maxTokens * c.IntermediateSize, "act.gate");
            Up = Make((long)maxTokens * c.IntermediateSize, "act.up");
            // Read back by the host every token: host-visible memory on every device (no staging submit), host-cached where
            // the device has it. A discrete GPU's device-local host-visible memory (resizable BAR) is uncached for the host:
            // reading one 32k-vocab row of logits from it cost ~3.5 ms per token on an H200 (tipo-500m decode took 6.5 ms
            // per token, 2.9 ms of it on the GPU).
            Logits = Make((long)LogitRows * c.VocabSize, "act.logits", GpuBuffer.Placement.HostStaging);
            Argmax = Make(2, "act.argmax", GpuBuffer.Placement.HostStaging);
            // Written by the host before each submit and read by many workgroups: device-local where the host can map it.
            Step = Make(4, "act.step", GpuBuffer.Placement.HostWrite);
            DecodeInput = Make(c.HiddenSize, "act.decode_input", GpuBuffer.Placement.HostWrite);
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
