using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// The best <see cref="Capacity"/> logits of one row and their token ids, on the GPU (Shaders/topk.comp), for sampling
/// from candidates instead of the whole row: a pass that sorts blocks of the row in shared memory and keeps each block's
/// best, then passes that keep the best of several lists, until one list is left in a host-readable buffer. Order:
/// descending logit, ties by ascending id (the sampler's). Owns its lists and the result; bound to one logits row and
/// vocabulary size at construction (descriptor sets written once).
/// </summary>
public sealed class TopKKernel : IDisposable
{
    /// <summary>Candidates the kernel returns (fewer when the vocabulary is smaller).</summary>
    public const int Capacity = 256;
    private const uint WorkgroupSize = 256;
    private const uint Block = 2048;   // entries one workgroup sorts: 16 KiB of shared memory

    private readonly record struct Push(uint N);
    private readonly record struct Pass(KernelBinding Binding, uint N, uint Groups);

    private readonly ComputeKernel _fromLogits;
    private readonly ComputeKernel _fromLists;
    private readonly List<GpuBuffer> _buffers = [];
    private readonly Pass[] _passes;
    private readonly GpuBuffer _result;   // [Capacity] (key, id): the final list, host-readable
    private readonly int _vocab;

    /// <summary>Whether <paramref name="device"/> can run the kernel: a workgroup of 256 lanes and 16 KiB of shared memory.</summary>
    public static bool Fits(VulkanDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.Info.MaxComputeWorkGroupInvocations >= WorkgroupSize && device.Info.MaxComputeSharedMemorySize >= Block * 8;
    }

    /// <param name="logits">[vocab] f32: the row to select from.</param>
    public TopKKernel(VulkanDevice device, BufferRange logits, int vocab)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocab);
        if (logits.Size < 4L * vocab)
            throw new ArgumentException($"the logits range holds {logits.Size / 4} floats, fewer than the vocabulary ({vocab})", nameof(logits));
        if (!Fits(device))
            throw new ArgumentException($"{device.Info.Name} cannot run the top-k kernel (it needs {WorkgroupSize} lanes and {Block * 8} bytes of shared memory)", nameof(device));
        _vocab = vocab;
        var passes = new List<Pass>();
        try
        {
            _fromLogits = new ComputeKernel(device, "topk", bindingCount: 2, pushConstantBytes: 4, [WorkgroupSize, Block, Capacity, 1u]);
            _fromLists = new ComputeKernel(device, "topk", bindingCount: 2, pushConstantBytes: 4, [WorkgroupSize, Block, Capacity, 0u]);
            // Pass 0: blocks of the row -> one list each; then lists merged Block / Capacity at a time, until one is left.
            BufferRange input = logits;
            uint n = (uint)vocab;
            bool first = true;
            while (true)
            {
                uint groups = (n + Block - 1) / Block;
                GpuBuffer output = groups == 1
                    ? Track(new GpuBuffer(device, Capacity * 8L, "topk-result", GpuBuffer.Placement.HostStaging))
                    : Track(new GpuBuffer(device, groups * Capacity * 8L, "topk-lists"));
                ComputeKernel kernel = first ? _fromLogits : _fromLists;
                passes.Add(new Pass(kernel.Bind(input, output), n, groups));
                if (groups == 1)
                {
                    _result = output;
                    break;
                }
                input = output;
                n = groups * Capacity;
                first = false;
            }
            _passes = passes.ToArray();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private GpuBuffer Track(GpuBuffer b)
    {
        _buffers.Add(b);
        return b;
    }

    /// <summary>Dispatches recorded per selection (one per pass), each after a barrier.</summary>
    public int PassCount => _passes.Length;

    /// <summary>Records the selection, a compute barrier before each pass (the first waits for the logits).</summary>
    public void Record(CommandSequence seq)
    {
        ArgumentNullException.ThrowIfNull(seq);
        foreach (Pass p in _passes)
        {
            seq.ComputeBarrier();
            seq.Dispatch(p.Binding, new Push(p.N), p.Groups);
        }
    }

    /// <summary>Reads the result of the last selection (after its submit finished): the candidates' ids and logits,
    /// best first. Returns how many were written: min(<see cref="Capacity"/>, vocab).</summary>
    public int Read(Span<int> ids, Span<float> logits)
    {
        int count = Math.Min(Capacity, _vocab);
        if (ids.Length < count || logits.Length < count)
            throw new ArgumentException($"room for {count} candidates needed", ids.Length < count ? nameof(ids) : nameof(logits));
        Span<ulong> pairs = stackalloc ulong[Capacity];
        _result.Download<ulong>(pairs);
        for (int i = 0; i < count; i++)
        {
            uint key = (uint)pairs[i], id = (uint)(pairs[i] >> 32);
            // A result out of order or naming no token is a kernel fault: say so rather than sample from it.
            if (id >= (uint)_vocab || (i > 0 && (key > (uint)pairs[i - 1] || (key == (uint)pairs[i - 1] && id <= (uint)(pairs[i - 1] >> 32)))))
                throw new InvalidOperationException($"the GPU top-k returned candidate {i} as token {id} (vocabulary {_vocab}) out of order: a fault of Shaders/topk.comp on this device");
            ids[i] = (int)id;
            logits[i] = key == uint.MaxValue ? float.NaN : BitConverter.UInt32BitsToSingle((key & 0x80000000u) != 0 ? key & 0x7FFFFFFFu : ~key);
        }
        return count;
    }

    public void Dispose()
    {
        _fromLogits?.Dispose();
        _fromLists?.Dispose();
        foreach (var b in _buffers) b.Dispose();
    }
}
