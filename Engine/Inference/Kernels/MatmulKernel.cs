using System.Runtime.InteropServices;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>
/// Weight-times-activations: <c>Y[t, rowOffset + r] (+)= sum_k W[r, k] X[t, k]</c> for one row chunk of a
/// weight matrix (Shaders/matmul_{f32,f16,q8_0}.comp). With <see cref="TokensPerWorkgroup"/> = 1 it is the
/// matrix-vector product of decoding; with more, every weight load is reused across that many tokens (prefill).
/// </summary>
public sealed class MatmulKernel : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Push(uint Rows, uint Cols, uint NTokens, uint XOffset, uint YOffset, uint YStride, uint RowOffset, uint Accumulate);

    private readonly ComputeKernel _kernel;

    /// <summary>Weight type this kernel reads.</summary>
    public GgmlType WeightType { get; }
    /// <summary>Lanes per workgroup (splitting the k dimension).</summary>
    public uint WorkgroupSize { get; }
    /// <summary>Weight rows per workgroup.</summary>
    public uint RowsPerWorkgroup { get; }
    /// <summary>Tokens per workgroup: 1 for decode, more for prefill.</summary>
    public uint TokensPerWorkgroup { get; }

    /// <param name="forceSharedReduction">Reduce through shared memory even where subgroupAdd exists (tests the fallback).</param>
    public MatmulKernel(VulkanDevice device, GgmlType weightType, uint tokensPerWorkgroup, bool forceSharedReduction = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        WeightType = weightType;
        TokensPerWorkgroup = tokensPerWorkgroup;
        string shader = weightType switch
        {
            GgmlType.F32 => "matmul_f32",
            GgmlType.F16 => "matmul_f16",
            GgmlType.Q8_0 => "matmul_q8_0",
            _ when Tipo.Models.Quantization.QuantGpuLayout.HasGpuKernel(weightType) => Tipo.Models.Quantization.QuantGpuLayout.ShaderName(weightType), // issue 7
            _ => throw new ArgumentOutOfRangeException(nameof(weightType), weightType, "no matmul kernel for this weight type"),
        };
        // One subgroup per workgroup where the device reports one that fits, so the reduction is a single
        // subgroupAdd. Decode takes 8 rows per workgroup: on lavapipe (8 lanes) that measured 1.3x faster than 2.
        WorkgroupSize = Math.Clamp(Math.Max(1u, device.Info.SubgroupSize), 8u, 64u);
        RowsPerWorkgroup = tokensPerWorkgroup == 1 ? 8u : 4u;
        uint useSubgroupAdd = device.Info.SubgroupArithmetic && !forceSharedReduction ? 1u : 0u;
        _kernel = new ComputeKernel(device, shader, bindingCount: 3, pushConstantBytes: Marshal.SizeOf<Push>(),
            [WorkgroupSize, RowsPerWorkgroup, TokensPerWorkgroup, useSubgroupAdd]);
    }

    /// <summary>Binds one weight chunk with its input and output (a descriptor set written once).</summary>
    /// <param name="weights">[rows, cols] in <see cref="WeightType"/> (Q8_0 repacked: quants then scales).</param>
    /// <param name="x">[nTokens, cols] f32.</param>
    /// <param name="y">[nTokens, yStride] f32.</param>
    public KernelBinding Bind(BufferRange weights, BufferRange x, BufferRange y) => _kernel.Bind(weights, x, y);

    /// <summary>Records Y (+)= W X for <paramref name="nTokens"/> tokens.</summary>
    public void Record(CommandSequence seq, KernelBinding binding, int rows, int cols, int nTokens,
        int xOffset, int yOffset, int yStride, int rowOffset, bool accumulate)
    {
        var push = new Push((uint)rows, (uint)cols, (uint)nTokens, (uint)xOffset, (uint)yOffset, (uint)yStride, (uint)rowOffset, accumulate ? 1u : 0u);
        uint groupsX = (uint)((rows + RowsPerWorkgroup - 1) / RowsPerWorkgroup);
        uint groupsY = (uint)((nTokens + TokensPerWorkgroup - 1) / TokensPerWorkgroup);
        seq.Dispatch(binding, push, groupsX, groupsY);
    }

    public void Dispose() => _kernel.Dispose();
}
