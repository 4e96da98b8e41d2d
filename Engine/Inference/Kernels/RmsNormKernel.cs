// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>RMSNorm per row: y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w. Shader <c>rmsnorm</c>; one workgroup per token.</summary>
public sealed class RmsNormKernel : IDisposable
{
    private readonly ComputeKernel _kernel;

    /// <summary>Lanes per row: 256 sharing the sum, or on CPU devices one SIMD group whose lanes each sum the row
    /// (no barrier(); the order the norm-fused matmuls use).</summary>
    public uint WorkgroupSize { get; }

    private readonly record struct Push(uint N, float Eps);

    /// <param name="everyLaneSums">Null: on CPU devices (where the matmuls fuse the norm in decode and must agree bit for bit).</param>
    public RmsNormKernel(VulkanDevice device, bool? everyLaneSums = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        EveryLaneSums = everyLaneSums ?? KernelSets.UseCpuKernels(device);
        WorkgroupSize = EveryLaneSums ? Math.Clamp(device.Info.SubgroupSize, 1u, 64u) : 256;
        _kernel = new ComputeKernel(device, "rmsnorm", bindingCount: 3, pushConstantBytes: 8, [WorkgroupSize, EveryLaneSums ? 1u : 0u]);
    }

    /// <summary>True when every lane sums the row itself (rms_scale.glsl), as the norm-fused matmuls do.</summary>
    public bool EveryLaneSums { get; }

    /// <param name="x">[nTokens, n] f32</param>
    /// <param name="w">[n] f32</param>
    /// <param name="y">[nTokens, n] f32 (may be x)</param>
    public KernelBinding Bind(BufferRange x, BufferRange w, BufferRange y) => _kernel.Bind(x, w, y);

    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int n, float eps)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nTokens);
        seq.Dispatch(binding, new Push((uint)n, eps), (uint)nTokens);
    }

    public void Dispose() => _kernel.Dispose();
}
