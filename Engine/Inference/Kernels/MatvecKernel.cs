// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using System.Numerics;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>Element type of a weight matrix / table.</summary>
public enum MatrixType { F32, F16 }

/// <summary>
/// y = W x (or y += W x) with a row-major weight matrix W [rows, cols] in F32 or F16, x and y f32, F32 accumulation.
/// Shaders <c>matvec_f32</c>/<c>matvec_f16</c> (subgroupAdd reduction) or <c>matvec_f32_nosg</c>/<c>matvec_f16_nosg</c>
/// (shared-memory reduction, used when the device lacks subgroup arithmetic).
/// Bindings: 0 = W chunk, 1 = x [nTokens, xStride] f32, 2 = y [nTokens, yStride] f32.
/// Push: { uint rows, cols, rowOffset, accumulate, xStride, yStride }. Spec: 0 = workgroup size, 1 = rows per workgroup.
/// Several tokens (prefill) are handled as grid z; each token re-reads W.
/// </summary>
public sealed class MatvecKernel : IDisposable
{
    private readonly ComputeKernel _kernel;
    private readonly VulkanDevice _device;

    private readonly record struct Push(uint Rows, uint Cols, uint RowOffset, uint Accumulate, uint XStride, uint YStride);

    public MatrixType Type { get; }
    public uint WorkgroupSize { get; }
    public uint RowsPerWorkgroup { get; }
    /// <summary>True when the subgroupAdd variant is used.</summary>
    public bool UsesSubgroups { get; }

    /// <param name="device">device</param>
    /// <param name="type">weight element type</param>
    /// <param name="workgroupSize">power of two; 0 picks a default</param>
    /// <param name="rowsPerWorkgroup">rows per workgroup (1..8); 0 picks a default</param>
    /// <param name="forceSharedReduction">use the shared-memory reduction even when subgroup arithmetic is available</param>
    public MatvecKernel(VulkanDevice device, MatrixType type, uint workgroupSize = 0, uint rowsPerWorkgroup = 0, bool forceSharedReduction = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        Type = type;
        WorkgroupSize = workgroupSize == 0 ? 64u : workgroupSize;
        RowsPerWorkgroup = rowsPerWorkgroup == 0 ? 2u : rowsPerWorkgroup;
        if (!BitOperations.IsPow2(WorkgroupSize) || WorkgroupSize > device.Info.MaxComputeWorkGroupInvocations)
            throw new ArgumentOutOfRangeException(nameof(workgroupSize), "workgroup size must be a power of two within the device limit");
        if (RowsPerWorkgroup is < 1 or > 8)
            throw new ArgumentOutOfRangeException(nameof(rowsPerWorkgroup), "rows per workgroup must be 1..8");
        UsesSubgroups = device.Info.SubgroupArithmetic && !forceSharedReduction;
        string name = (type == MatrixType.F16 ? "matvec_f16" : "matvec_f32") + (UsesSubgroups ? "" : "_nosg");
        _kernel = new ComputeKernel(device, name, bindingCount: 3, pushConstantBytes: 24, [WorkgroupSize, RowsPerWorkgroup]);
    }

    /// <summary>Bytes per matrix element.</summary>
    public int ElementBytes => Type == MatrixType.F16 ? 2 : 4;

    /// <param name="w">[rows, cols] F32 or F16 (row-major; one chunk of rows, at most MaxStorageBufferRange bytes)</param>
    /// <param name="x">[nTokens, xStride] f32</param>
    /// <param name="y">[nTokens, yStride] f32 (written at rowOffset .. rowOffset + rows)</param>
    public KernelBinding Bind(BufferRange w, BufferRange x, BufferRange y) => _kernel.Bind(w, x, y);

    /// <summary>Records y[t, rowOffset + r] (+)= sum_c W[r, c] x[t, c] for the rows of one binding.</summary>
    /// <param name="xStride">elements between tokens in x (default cols)</param>
    /// <param name="yStride">elements between tokens in y (default rowOffset + rows)</param>
    public void Record(CommandSequence seq, KernelBinding binding, int rows, int cols, int rowOffset = 0, bool accumulate = false,
        int nTokens = 1, int xStride = 0, int yStride = 0)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nTokens);
        if (nTokens > KernelMath.MaxGroupsPerDim)
            throw new ArgumentOutOfRangeException(nameof(nTokens), $"at most {KernelMath.MaxGroupsPerDim} tokens per dispatch");
        var push = new Push((uint)rows, (uint)cols, (uint)rowOffset, accumulate ? 1u : 0u,
            (uint)(xStride == 0 ? cols : xStride), (uint)(yStride == 0 ? rowOffset + rows : yStride));
        (uint gx, uint gy) = KernelMath.Groups1D(rows, RowsPerWorkgroup);
        seq.Dispatch(binding, push, gx, gy, (uint)nTokens);
    }

    /// <summary>
    /// Binds a whole matrix stored at <paramref name="wOffset"/> in <paramref name="w"/>, split into chunks that each fit
    /// MaxStorageBufferRange (see <see cref="MatrixSplit"/>). Record it with <see cref="Record(CommandSequence, MatvecPlan, bool, int, int, int)"/>.
    /// </summary>
    /// <param name="w">buffer holding W [rows, cols] at wOffset (F32 or F16)</param>
    /// <param name="x">[nTokens, cols] f32</param>
    /// <param name="y">[nTokens, rows] f32</param>
    public MatvecPlan Plan(GpuBuffer w, long wOffset, BufferRange x, BufferRange y, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(w);
        long bytesPerRow = (long)cols * ElementBytes;
        ulong align = Math.Max(_device.Info.MinStorageBufferOffsetAlignment, 16);
        var chunks = MatrixSplit.Rows(rows, bytesPerRow, _device.Info.MaxStorageBufferRange, align);
        var bindings = new List<(RowChunk, KernelBinding)>();
        foreach (RowChunk c in chunks)
            bindings.Add((c, Bind(new BufferRange(w, wOffset + c.ByteOffset, c.ByteSize), x, y)));
        return new MatvecPlan(rows, cols, bindings);
    }

    /// <summary>Records every chunk of a plan (no barriers are needed between chunks: they write disjoint rows).</summary>
    public void Record(CommandSequence seq, MatvecPlan plan, bool accumulate = false, int nTokens = 1, int xStride = 0, int yStride = 0)
    {
        ArgumentNullException.ThrowIfNull(plan);
        foreach ((RowChunk c, KernelBinding b) in plan.Chunks)
            Record(seq, b, (int)c.RowCount, plan.Cols, (int)c.FirstRow, accumulate, nTokens, xStride, yStride == 0 ? plan.Rows : yStride);
    }

    public void Dispose() => _kernel.Dispose();
}

/// <summary>A matrix bound as one or more row chunks (see <see cref="MatvecKernel.Plan"/>).</summary>
public sealed class MatvecPlan
{
    internal MatvecPlan(int rows, int cols, IReadOnlyList<(RowChunk, KernelBinding)> chunks)
    {
        Rows = rows;
        Cols = cols;
        Chunks = chunks;
    }

    public int Rows { get; }
    public int Cols { get; }
    public IReadOnlyList<(RowChunk Chunk, KernelBinding Binding)> Chunks { get; }
}
