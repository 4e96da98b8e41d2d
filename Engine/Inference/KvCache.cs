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
        int elementBytes = type == KvCacheType.F32 ? 4 : 2;
        long bytes = (long)contextLength * rowSize * elementBytes;
        CheckFitsHeap(device, layers, contextLength, rowSize, elementBytes, type);
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

    /// <summary>
    /// Refuses a cache larger than the device's largest (device-local) memory heap before allocating anything: such a
    /// request can never succeed, and on drivers whose heap is host RAM (lavapipe) an attempt could exhaust the host.
    /// </summary>
    private static void CheckFitsHeap(VulkanDevice device, int layers, int contextLength, int rowSize, int elementBytes, KvCacheType type)
    {
        ulong heap = device.Info.LargestHeapBytes;
        // 2 (K and V) * layers * ctx * row * element: at most 2 * 2^31 * 2^31 * 2^31 * 4, so use decimal to be safe.
        decimal total = 2m * layers * contextLength * rowSize * elementBytes;
        if (heap > 0 && total > heap)
            throw new Tipo.Errors.OutOfDeviceMemoryException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the KV cache for a context of {contextLength} tokens needs {total / 1048576m:0.0} MiB ({layers} layers x K and V x {contextLength} positions x {rowSize} x {elementBytes} bytes, {type}), more than the device's largest memory heap of {heap / 1048576.0:0.0} MiB on {device.Info.Name}; ask for a shorter context (--ctx){(type == KvCacheType.F32 ? " or --kv f16" : "")}"));
    }

    public GpuBuffer Keys(int layer) => _keys[layer];
    public GpuBuffer Values(int layer) => _values[layer];

    public void Dispose()
    {
        foreach (var b in _keys) b?.Dispose();
        foreach (var b in _values) b?.Dispose();
    }
}
