namespace Tipo.Vulkan;

/// <summary>The kind of a Vulkan physical device.</summary>
public enum DeviceKind { Other, IntegratedGpu, DiscreteGpu, VirtualGpu, Cpu }

/// <summary>One memory heap of a device.</summary>
public readonly record struct MemoryHeapInfo(ulong Size, bool DeviceLocal);

/// <summary>What Tipo knows about one Vulkan physical device.</summary>
/// <remarks>
/// Index: Position in the loader's device list (the index a selector may name).<br/>
/// ApiVersion: Vulkan version the device supports, e.g. "1.3.255".<br/>
/// SubgroupSize: Default subgroup size (never assume it in shaders).<br/>
/// SubgroupArithmetic: subgroupAdd and friends are supported in compute shaders.<br/>
/// UnifiedMemory: A device-local and host-visible (coherent) memory type exists on the largest
/// device-local heap, so buffers are mapped directly instead of going through staging copies.<br/>
/// TimestampPeriodNs: Nanoseconds per timestamp tick.<br/>
/// </remarks>
public sealed record DeviceInfo(
    int Index,
    string Name,
    DeviceKind Kind,
    string DriverName,
    string DriverInfo,
    string ApiVersion,
    uint SubgroupSize,
    bool SubgroupArithmetic,
    ulong MaxStorageBufferRange,
    uint MaxComputeSharedMemorySize,
    uint[] MaxComputeWorkGroupCount,
    uint MaxComputeWorkGroupInvocations,
    ulong MinStorageBufferOffsetAlignment,
    bool Storage16Bit,
    bool ShaderFloat16,
    bool Storage8Bit,
    bool ShaderInt8,
    bool SubgroupSizeControl,
    bool UnifiedMemory,
    IReadOnlyList<MemoryHeapInfo> MemoryHeaps,
    double TimestampPeriodNs,
    bool TimestampsSupported)
{
    /// <summary>True when Tipo can run on it (Vulkan 1.2 or newer with a compute queue).</summary>
    public bool Usable { get; init; } = true;

    /// <summary>Bytes of the largest device-local memory heap (of the largest heap where none is device-local; 0 when
    /// there are none): the most the weights or the KV cache could ever take.</summary>
    public ulong LargestHeapBytes
    {
        get
        {
            var local = MemoryHeaps.Where(h => h.DeviceLocal).ToList();
            return (local.Count > 0 ? local : MemoryHeaps).Select(h => h.Size).DefaultIfEmpty(0UL).Max();
        }
    }

    /// <summary>Most elements one texel-buffer view may span (2^27 on lavapipe and most GPUs: 2 GiB of 16-byte texels).</summary>
    public ulong MaxTexelBufferElements { get; init; }
    /// <summary>Required alignment of a texel-buffer view's offset, in bytes.</summary>
    public ulong MinTexelBufferOffsetAlignment { get; init; } = 256;
    /// <summary>Most bytes one uniform-buffer binding may span (64 KiB on many devices).</summary>
    public ulong MaxUniformBufferRange { get; init; }
    /// <summary>Required alignment of a uniform-buffer binding's offset, in bytes.</summary>
    public ulong MinUniformBufferOffsetAlignment { get; init; } = 256;

    /// <summary>Smallest and largest subgroup size the device may compile a shader for (Vulkan 1.3; 0 when unknown).</summary>
    public uint MinSubgroupSize { get; init; }
    /// <inheritdoc cref="MinSubgroupSize"/>
    public uint MaxSubgroupSize { get; init; }

    /// <summary>subgroupShuffle and subgroupShuffleXor are supported in compute shaders (the CPU kernel set's matmuls use
    /// them: <see cref="Tipo.Inference.Kernels.KernelSets.CpuKernelsRunOn"/>).</summary>
    public bool SubgroupShuffle { get; init; }

    /// <summary>subgroupBroadcast and the other ballot operations are supported in compute shaders (the CPU kernel set's
    /// matmuls use them: <see cref="Tipo.Inference.Kernels.KernelSets.CpuKernelsRunOn"/>).</summary>
    public bool SubgroupBallot { get; init; }

    /// <summary>Compute units that run workgroups side by side, where the driver reports them: NVIDIA's SMs
    /// (VK_NV_shader_sm_builtins), AMD's CUs (VK_AMD_shader_core_properties); 0 when unknown (lavapipe, Intel, ...).
    /// The one-dispatch decode layer (<see cref="Tipo.Inference.Kernels.DecodeLayerKernel"/>) sizes its grid by it.</summary>
    public uint ComputeUnits { get; init; }

    /// <summary>Shaders may read a device-wide clock (VK_KHR_shader_clock's shaderDeviceClock: GLSL's
    /// clockRealtime2x32EXT): the one-dispatch decode layer's phase timeline (<c>tipo bench --profile</c>) needs it.</summary>
    public bool ShaderDeviceClock { get; init; }

    /// <summary>The smallest subgroup a shader may run in: <see cref="MinSubgroupSize"/> where the device reports it (Vulkan
    /// 1.3), else <see cref="SubgroupSize"/>.</summary>
    public uint SmallestSubgroupSize => MinSubgroupSize > 0 ? MinSubgroupSize : SubgroupSize;

    /// <summary>True when every shader runs in subgroups of <see cref="SubgroupSize"/> (NVIDIA: 32; lavapipe: its SIMD width),
    /// so a workgroup of that many lanes is exactly one subgroup. False where the driver may pick another size per
    /// shader (AMD: 32 or 64; Intel: 8 to 32) or where that is unknown (before Vulkan 1.3).</summary>
    public bool FixedSubgroupSize => SubgroupSize > 0 && MinSubgroupSize == SubgroupSize && MaxSubgroupSize == SubgroupSize;

    /// <summary>The driver and its version, e.g. "llvmpipe Mesa 23.2.1 (LLVM 15.0.7)" (the kernels chosen depend on it).</summary>
    public string Driver => $"{DriverName} {DriverInfo}".Trim();

    /// <summary>Human-readable type, e.g. "discrete GPU".</summary>
    public string KindText => Kind switch
    {
        DeviceKind.DiscreteGpu => "discrete GPU",
        DeviceKind.IntegratedGpu => "integrated GPU",
        DeviceKind.VirtualGpu => "virtual GPU",
        DeviceKind.Cpu => "CPU",
        _ => "other",
    };
}
