using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>Which family of kernels a model runs: each op has a GPU and a CPU-device variant (see README, Speed).</summary>
public enum KernelSet
{
    /// <summary>The device's own: <see cref="Cpu"/> on CPU Vulkan devices (lavapipe), <see cref="Gpu"/> elsewhere. The
    /// environment variable <c>TIPO_KERNELS</c> (<c>gpu</c> or <c>cpu</c>) overrides it.</summary>
    Auto,
    /// <summary>Split-k matmuls with subgroup reductions, shared-memory attention tiles, workgroup-wide rmsnorm.</summary>
    Gpu,
    /// <summary>Rows-per-lane matmuls over texel buffers (with the SwiGLU and rope fusions), one-subgroup attention
    /// without barriers, rmsnorm as one subgroup per token over texel buffers (<see cref="RmsNormKernel.UsesSubgroupKernel"/>).</summary>
    Cpu,
}

/// <summary>Resolves <see cref="KernelSet.Auto"/>.</summary>
public static class KernelSets
{
    /// <summary>True when <paramref name="requested"/> means the CPU-device kernels on <paramref name="device"/>.</summary>
    public static bool UseCpuKernels(VulkanDevice device, KernelSet requested = KernelSet.Auto)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (requested == KernelSet.Auto)
        {
            string? forced = Environment.GetEnvironmentVariable("TIPO_KERNELS");
            if (string.Equals(forced, "gpu", StringComparison.OrdinalIgnoreCase)) requested = KernelSet.Gpu;
            else if (string.Equals(forced, "cpu", StringComparison.OrdinalIgnoreCase)) requested = KernelSet.Cpu;
        }
        return requested == KernelSet.Cpu || (requested == KernelSet.Auto && device.Info.Kind == DeviceKind.Cpu);
    }
}
