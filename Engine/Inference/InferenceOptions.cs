namespace Tipo.Inference;

/// <summary>How a model is loaded onto a device.</summary>
public sealed record InferenceOptions
{
    /// <summary>Vulkan device: an index or a name substring; null uses TIPO_DEVICE, then the best device.</summary>
    public string? Device { get; init; }
    /// <summary>Context length to allocate the KV cache for; 0 means the model's training context. Longer is allowed, as in llama.cpp.</summary>
    public int ContextLength { get; init; }
    /// <summary>KV cache element type. F16 as llama.cpp defaults to; F32 matches the references exactly.</summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F16;
    /// <summary>Most tokens one prefill pass processes; longer prompts are fed in chunks of this size.</summary>
    public int MaxBatchTokens { get; init; } = 512;
    /// <summary>The kernel family: the device's own by default (<see cref="Tipo.Inference.Kernels.KernelSet.Auto"/>); tests run the GPU
    /// family on lavapipe against the same references.</summary>
    public Tipo.Inference.Kernels.KernelSet Kernels { get; init; } = Tipo.Inference.Kernels.KernelSet.Auto;
    /// <summary>Sampled decoding reads back the GPU's best <see cref="Tipo.Inference.Kernels.TopKKernel.Capacity"/> logits
    /// instead of the whole row, where the sampling options allow it (<see cref="Generator"/>). Null: on GPUs, not on CPU
    /// devices, whose host reads the row as fast as the GPU would sort it; tests turn it on for lavapipe.</summary>
    public bool? GpuTopK { get; init; }
    /// <summary>Workgroups of the one-dispatch decode layer (<see cref="Tipo.Inference.Kernels.DecodeLayerKernel"/>): 0 records
    /// decode as per-op dispatches. Null: the environment variable TIPO_DECODE_WORKGROUPS, else one per compute unit on GPUs
    /// that report them (NVIDIA, AMD), else off. Used where the model fits it (GPU kernel set, F16 weights).</summary>
    public int? DecodeWorkgroups { get; init; }
    /// <summary>Workgroups of the one-dispatch CPU decode layer (<see cref="Tipo.Inference.Kernels.DecodeLayerCpuKernel"/>): 0
    /// records decode as per-op dispatches. Null: the environment variable TIPO_CPU_DECODE_WORKGROUPS, else one per llvmpipe
    /// thread (<see cref="Tipo.Inference.Kernels.DecodeLayerCpuKernel.WorkgroupsFor"/>). Used where the model fits it (CPU
    /// kernel set, F16 rows-per-lane matrices).</summary>
    public int? CpuDecodeWorkgroups { get; init; }
    /// <summary>Keys per attention unit of the one-dispatch decode layer; null: its default (one step of its key groups,
    /// 64). Tests ask for fewer, so that the chunks of a head are merged within llama.cpp's short references.</summary>
    internal uint? DecodeAttentionChunkKeys { get; init; }
    /// <summary>Tokens per workgroup of the rows-per-lane prefill matmuls (CPU devices); null: the device's default
    /// (<see cref="Tipo.Inference.Kernels.MatmulKernel.PrefillTokensFor"/>). For measurements.</summary>
    internal uint? RowsPrefillTokens { get; init; }
}
