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
/// Push: { uint rows, cols, rowOffset, accumulate, xStride, yStride, nTokens }. Spec: 0 = workgroup size, 1 = rows per workgroup,
/// 2 = wide loads, 3 = tokens per workgroup. Several tokens (prefill) use a second pipeline in which each workgroup
/// serves up to 8 tokens per weight load (grid z = ceil(nTokens / 8)); bindings work with both.
/// </summary>
public sealed class MatvecKernel : IDisposable
{
    private readonly ComputeKernel _kernel;
    private readonly VulkanDevice _device;
    private readonly string _shader;
    private readonly bool _wide;
    private ComputeKernel? _multi;

    private readonly record struct Push(uint Rows, uint Cols, uint RowOffset, uint Accumulate, uint XStride, uint YStride, uint NTokens);

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
    /// <param name="wideLoads">16-byte weight loads when cols allow (default); false: 4-byte loads (F16 only)</param>
    /// <param name="tokensPerWorkgroup">tokens handled per workgroup when nTokens &gt; 1 (each weight load serves that many
    /// tokens; 1..8); 0 picks 8. nTokens = 1 always uses a single-token pipeline.</param>
    public MatvecKernel(VulkanDevice device, MatrixType type, uint workgroupSize = 0, uint rowsPerWorkgroup = 0, bool forceSharedReduction = false,
        bool? wideLoads = null, uint tokensPerWorkgroup = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        Type = type;
        // Defaults: GPUs 64 invocations x 2 rows; CPU drivers (lavapipe) do better with small groups and more rows
        // (fewer barriers per byte). Measured on lavapipe only; tune on real GPUs.
        bool cpu = device.Info.Kind == DeviceKind.Cpu;
        WorkgroupSize = workgroupSize == 0 ? (cpu ? 16u : 64u) : workgroupSize;
        RowsPerWorkgroup = rowsPerWorkgroup == 0 ? (cpu ? 8u : 2u) : rowsPerWorkgroup;
        if (!BitOperations.IsPow2(WorkgroupSize) || WorkgroupSize > device.Info.MaxComputeWorkGroupInvocations)
            throw new ArgumentOutOfRangeException(nameof(workgroupSize), "workgroup size must be a power of two within the device limit");
        if (RowsPerWorkgroup is < 1 or > 8)
            throw new ArgumentOutOfRangeException(nameof(rowsPerWorkgroup), "rows per workgroup must be 1..8");
        UsesSubgroups = device.Info.SubgroupArithmetic && !forceSharedReduction;
        TokensPerWorkgroup = tokensPerWorkgroup == 0 ? 8u : tokensPerWorkgroup;
        if (TokensPerWorkgroup is < 1 or > 8)
            throw new ArgumentOutOfRangeException(nameof(tokensPerWorkgroup), "tokens per workgroup must be 1..8");
        _shader = (type == MatrixType.F16 ? "matvec_f16" : "matvec_f32") + (UsesSubgroups ? "" : "_nosg");
        _wide = wideLoads ?? true;
        _kernel = Create(1);
    }

    private const int PushBytes = 28;

    private ComputeKernel Create(uint tokens) =>
        new(_device, _shader, bindingCount: 3, pushConstantBytes: PushBytes, [WorkgroupSize, RowsPerWorkgroup, _wide ? 1u : 0u, tokens]);

    /// <summary>Tokens per workgroup of the multi-token (prefill) pipeline.</summary>
    public uint TokensPerWorkgroup { get; }

    /// <summary>Creates the multi-token pipeline now (otherwise on the first Record with nTokens &gt; 1).</summary>
    public void PrepareMultiToken()
    {
        if (TokensPerWorkgroup > 1)
            _multi ??= Create(TokensPerWorkgroup);
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
            (uint)(xStride == 0 ? cols : xStride), (uint)(yStride == 0 ? rowOffset + rows : yStride), (uint)nTokens);
        (uint gx, uint gy) = KernelMath.Groups1D(rows, RowsPerWorkgroup);
        if (nTokens == 1 || TokensPerWorkgroup == 1)
        {
            seq.Dispatch(binding, push, gx, gy, (uint)nTokens);
            return;
        }
        PrepareMultiToken();
        seq.DispatchWith(_multi!, binding, push, gx, gy, KernelMath.CeilDiv(nTokens, TokensPerWorkgroup));
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

    public void Dispose()
    {
        _multi?.Dispose();
        _kernel.Dispose();
    }
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
