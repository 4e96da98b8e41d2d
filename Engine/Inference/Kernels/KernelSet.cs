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
    /// <summary>True when <paramref name="requested"/> means the CPU-device kernels on <paramref name="device"/>. A CPU
    /// device that cannot run them (<see cref="CpuKernelsRunOn"/>) gets the GPU kernels; asking for them there is an
    /// error.</summary>
    /// <exception cref="Errors.UnsupportedFeatureException">The CPU kernels are asked for on a device that cannot run them.</exception>
    public static bool UseCpuKernels(VulkanDevice device, KernelSet requested = KernelSet.Auto)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (requested == KernelSet.Auto)
        {
            string? forced = Environment.GetEnvironmentVariable("TIPO_KERNELS");
            if (string.Equals(forced, "gpu", StringComparison.OrdinalIgnoreCase)) requested = KernelSet.Gpu;
            else if (string.Equals(forced, "cpu", StringComparison.OrdinalIgnoreCase)) requested = KernelSet.Cpu;
        }
        if (requested == KernelSet.Cpu && !CpuKernelsRunOn(device.Info))
            throw new Errors.UnsupportedFeatureException(
                $"the CPU kernel set needs subgroup ballot and shuffle operations in compute shaders, which {device.Info.Name} does not support; use the GPU kernels (TIPO_KERNELS=gpu)");
        return requested == KernelSet.Cpu || (requested == KernelSet.Auto && device.Info.Kind == DeviceKind.Cpu && CpuKernelsRunOn(device.Info));
    }

    /// <summary>Whether <paramref name="info"/>'s device can run the CPU kernel set: its rows-per-lane matmuls are compiled
    /// with subgroupShuffle (their prefill shares X across lanes where the driver gains from it) and the norm-fused ones
    /// with subgroupBroadcastFirst, so they need subgroup shuffle and ballot operations in compute shaders, which
    /// lavapipe, SwiftShader and desktop GPUs have.</summary>
    public static bool CpuKernelsRunOn(DeviceInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.SubgroupBallot && info.SubgroupShuffle;
    }
}
