using Tipo.Vulkan;

namespace Tipo.Inference;

/// <summary>Element type of the KV cache.</summary>
public enum KvCacheType
{
    /// <summary>32-bit floats: exact, what the llama.cpp references were made with.</summary>
    F32,
    /// <summary>16-bit floats: half the memory and bandwidth.</summary>
    F16,
}

/// <summary>
/// The keys and values of every past position, per layer, sized by the context actually requested.
/// K and V of layer l: [ContextLength, KvHeads * HeadDim] in <see cref="Type"/>.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly GpuBuffer[] _keys;     // per layer: [ctx, kvDim] f32|f16
    private readonly GpuBuffer[] _values;   // per layer: [ctx, kvDim] f32|f16

    public int ContextLength { get; }
    public int RowSize { get; }
    public KvCacheType Type { get; }
    public long SizeBytes { get; }

    public KvCache(VulkanDevice device, int layers, int contextLength, int rowSize, KvCacheType type)
    {
        ContextLength = contextLength;
        RowSize = rowSize;
        Type = type;
        long bytes = (long)contextLength * rowSize * (type == KvCacheType.F32 ? 4 : 2);
        _keys = new GpuBuffer[layers];
        _values = new GpuBuffer[layers];
        try
        {
            for (int l = 0; l < layers; l++)
            {
                _keys[l] = new GpuBuffer(device, bytes, $"kv_cache.k[{l}]");
                _values[l] = new GpuBuffer(device, bytes, $"kv_cache.v[{l}]");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        SizeBytes = 2L * layers * bytes;
    }

    public GpuBuffer Keys(int layer) => _keys[layer];
    public GpuBuffer Values(int layer) => _values[layer];

    public void Dispose()
    {
        foreach (var b in _keys) b?.Dispose();
        foreach (var b in _values) b?.Dispose();
    }
}
