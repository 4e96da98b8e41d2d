// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>RMSNorm per row: y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w, one workgroup per token. Shader <c>rmsnorm</c>
/// (256 lanes sharing the sum through shared memory) or, on CPU devices, <c>rmsnorm_subgroup</c> (one subgroup, x and w
/// through texel buffers, rows a multiple of 4 long).</summary>
public sealed class RmsNormKernel : IDisposable
{
    private readonly ComputeKernel _kernel;

    /// <summary>Lanes per row: 256, or the device's subgroup size for <see cref="Subgroup"/>.</summary>
    public uint WorkgroupSize { get; }

    /// <summary>True for the one-subgroup texel-buffer kernel (CPU devices): llvmpipe turns storage-buffer loads into
    /// per-lane loops and <c>barrier()</c> into a coroutine switch, a texel fetch and one subgroupAdd are its fast path.</summary>
    public bool Subgroup { get; }

    private readonly record struct Push(uint N, float Eps);

    /// <param name="subgroup">Null: on CPU devices (<see cref="KernelSets.UseCpuKernels"/>). The subgroup kernel needs rows
    /// a multiple of 4 long (<see cref="Record"/> checks).</param>
    public RmsNormKernel(VulkanDevice device, bool? subgroup = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        Subgroup = subgroup ?? KernelSets.UseCpuKernels(device);
        if (Subgroup)
        {
            WorkgroupSize = Math.Clamp(device.Info.SubgroupSize, 1u, 128u);
            _kernel = new ComputeKernel(device, "rmsnorm_subgroup",
                [BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer], pushConstantBytes: 8, [WorkgroupSize]);
        }
        else
        {
            WorkgroupSize = 256;
            _kernel = new ComputeKernel(device, "rmsnorm", bindingCount: 3, pushConstantBytes: 8, [WorkgroupSize]);
        }
    }

    /// <param name="x">[nTokens, n] f32</param>
    /// <param name="w">[n] f32</param>
    /// <param name="y">[nTokens, n] f32 (may be x for the shared-memory kernel only)</param>
    public KernelBinding Bind(BufferRange x, BufferRange w, BufferRange y) => _kernel.Bind(x, w, y);

    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int n, float eps)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nTokens);
        if (Subgroup && n % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(n), n, "the subgroup rmsnorm kernel reads whole 4-float texels");
        seq.Dispatch(binding, new Push((uint)n, eps), (uint)nTokens);
    }

    public void Dispose() => _kernel.Dispose();
}
