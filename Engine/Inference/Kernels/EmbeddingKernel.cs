// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>Embedding lookup: out[t] = table[ids[t]] as f32, table F32 or F16. Shader <c>embed</c>
/// (spec 1 = table is F16). Tables larger than MaxStorageBufferRange are bound as row chunks.</summary>
public sealed class EmbeddingKernel : IDisposable
{
    private const uint WorkgroupSize = 64;
    private readonly ComputeKernel _kernel;
    private readonly VulkanDevice _device;

    private readonly record struct Push(uint Dim, uint NTokens, uint RowBegin, uint RowCount);

    public MatrixType Type { get; }

    public EmbeddingKernel(VulkanDevice device, MatrixType type)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        Type = type;
        _kernel = new ComputeKernel(device, "embed", bindingCount: 3, pushConstantBytes: 16, [WorkgroupSize, type == MatrixType.F16 ? 1u : 0u]);
    }

    /// <summary>Binds the table (split into chunks as needed).</summary>
    /// <param name="ids">[nTokens] u32 token ids</param>
    /// <param name="table">buffer holding the table [vocab, dim] (F32 or F16) at tableOffset</param>
    /// <param name="output">[nTokens, dim] f32</param>
    public EmbeddingBinding Bind(BufferRange ids, GpuBuffer table, long tableOffset, int vocab, int dim, BufferRange output)
    {
        ArgumentNullException.ThrowIfNull(table);
        long bytesPerRow = (long)dim * (Type == MatrixType.F16 ? 2 : 4);
        ulong align = Math.Max(_device.Info.MinStorageBufferOffsetAlignment, 16);
        var chunks = new List<(RowChunk, KernelBinding)>();
        foreach (RowChunk c in MatrixSplit.Rows(vocab, bytesPerRow, _device.Info.MaxStorageBufferRange, align))
            chunks.Add((c, _kernel.Bind(ids, new BufferRange(table, tableOffset + c.ByteOffset, c.ByteSize), output)));
        return new EmbeddingBinding(dim, chunks);
    }

    /// <summary>Records the lookup of nTokens ids (ids must be &lt; vocab; others leave their output row untouched).</summary>
    public void Record(CommandSequence seq, EmbeddingBinding binding, int nTokens)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentNullException.ThrowIfNull(binding);
        uint gx = KernelMath.CeilDiv(binding.Dim, WorkgroupSize);
        foreach ((RowChunk c, KernelBinding b) in binding.Chunks)
            seq.Dispatch(b, new Push((uint)binding.Dim, (uint)nTokens, (uint)c.FirstRow, (uint)c.RowCount), gx, (uint)nTokens);
    }

    public void Dispose() => _kernel.Dispose();
}

/// <summary>An embedding table bound as row chunks.</summary>
public sealed class EmbeddingBinding
{
    internal EmbeddingBinding(int dim, IReadOnlyList<(RowChunk, KernelBinding)> chunks)
    {
        Dim = dim;
        Chunks = chunks;
    }

    public int Dim { get; }
    public IReadOnlyList<(RowChunk Chunk, KernelBinding Binding)> Chunks { get; }
}
