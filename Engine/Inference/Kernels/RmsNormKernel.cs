// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>RMSNorm per row: y[t] = x[r] / sqrt(mean(x[r]^2) + eps) * w with r = firstRow + t, one workgroup per token.
/// Shader <c>rmsnorm</c> (256 lanes sharing the sum through shared memory) or, with the CPU kernels where
/// <see cref="UsesSubgroupKernel"/> allows, <c>rmsnorm_subgroup</c> (one subgroup, x and w through texel buffers, rows a
/// multiple of 4 long).</summary>
public sealed class RmsNormKernel : IDisposable
{
    private readonly ComputeKernel _kernel;

    /// <summary>Lanes per row: 256, or the device's subgroup size for <see cref="Subgroup"/>.</summary>
    public uint WorkgroupSize { get; }

    /// <summary>True for the one-subgroup texel-buffer kernel (CPU devices): llvmpipe turns storage-buffer loads into
    /// per-lane loops and <c>barrier()</c> into a coroutine switch, a texel fetch and one subgroupAdd are its fast path.</summary>
    public bool Subgroup { get; }

    private readonly record struct Push(uint N, float Eps, uint FirstRow);

    /// <summary>Whether the kernel set <paramref name="kernels"/> runs the one-subgroup kernel on <paramref name="device"/>
    /// for rows of <paramref name="n"/>: the CPU kernels, on a device with subgroup arithmetic where a workgroup of the
    /// reported subgroup size is one subgroup (a CPU device, or one whose shaders all run in subgroups of that size), for
    /// rows a multiple of 4 long.</summary>
    public static bool UsesSubgroupKernel(VulkanDevice device, KernelSet kernels, int n)
    {
        ArgumentNullException.ThrowIfNull(device);
        return KernelSets.UseCpuKernels(device, kernels) && device.Info.SubgroupArithmetic && device.Info.SubgroupSize is >= 1 and <= 128 &&
               (device.Info.Kind == DeviceKind.Cpu || device.Info.FixedSubgroupSize) && n > 0 && n % 4 == 0;
    }

    /// <param name="subgroup">The one-subgroup kernel (<see cref="UsesSubgroupKernel"/> says where it may run; rows a
    /// multiple of 4 long, <see cref="Record"/> checks), else the shared-memory one.</param>
    public RmsNormKernel(VulkanDevice device, bool subgroup)
    {
        ArgumentNullException.ThrowIfNull(device);
        Subgroup = subgroup;
        if (Subgroup)
        {
            WorkgroupSize = Math.Clamp(device.Info.SubgroupSize, 1u, 128u);
            _kernel = new ComputeKernel(device, "rmsnorm_subgroup",
                [BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer], pushConstantBytes: 12, [WorkgroupSize]);
        }
        else
        {
            WorkgroupSize = 256;
            _kernel = new ComputeKernel(device, "rmsnorm", bindingCount: 3, pushConstantBytes: 12, [WorkgroupSize]);
        }
    }

    /// <param name="x">[rows, n] f32</param>
    /// <param name="w">[n] f32</param>
    /// <param name="y">[rows, n] f32 (may be x for the shared-memory kernel, with firstRow 0)</param>
    public KernelBinding Bind(BufferRange x, BufferRange w, BufferRange y) => _kernel.Bind(x, w, y);

    /// <summary>Normalises rows firstRow .. firstRow + nTokens - 1 of x into rows 0 .. nTokens - 1 of y.</summary>
    public void Record(CommandSequence seq, KernelBinding binding, int nTokens, int n, float eps, int firstRow = 0)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        if (Subgroup && n % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(n), n, "the subgroup rmsnorm kernel reads whole 4-float texels");
        seq.Dispatch(binding, new Push((uint)n, eps, (uint)firstRow), (uint)nTokens);
    }

    public void Dispose() => _kernel.Dispose();
}
