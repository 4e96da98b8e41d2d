using System.Runtime.InteropServices;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>How a matmul kernel divides the work between lanes.</summary>
public enum MatmulLayout
{
    /// <summary>
    /// A workgroup's lanes split the k dimension of a few rows and reduce with subgroupAdd (or shared memory):
    /// neighbouring lanes read neighbouring weights (coalesced). The GPU layout; every weight type has it
    /// (Shaders/include/matmul.glsl).
    /// </summary>
    SplitK,
    /// <summary>
    /// Every lane owns whole rows: no reduction, weights and activations through texel buffers (every lane reads
    /// the same activation texel). The layout for CPU devices (lavapipe), F16, F32 and Q8_0 only
    /// (Shaders/include/matmul_rows.glsl).
    /// </summary>
    RowsPerLane,
    /// <summary>
    /// Split-k with 16-byte weight loads: lane l reads texels (8 halves) l, l + lanes, ... of a workgroup's rows, four
    /// of them in flight, with the RMSNorm and SwiGLU fusions (gate and up as two matrices) and the rope and cache append
    /// of the QKV projection (<see cref="RopeFusion"/>). The GPU layout for F16 matrices of whole texels
    /// (Shaders/include/matmul_wide.glsl).
    /// </summary>
    WideSplitK,
}

/// <summary>The rope and the KV-cache append fused into the stacked QKV projection's epilogue: q rotated into Y, k rotated
/// and v written to the caches at each token's position. The wide split-k kernel rotates GGUF's interleaved pairs
/// (2i, 2i+1), neighbouring rows of a workgroup; the rows-per-lane kernel rotate-half pairs (i, i + headDim/2), rows of
/// one lane (<see cref="MatmulKernel.RopePairsOf"/>).</summary>
public sealed record RopeFusion(int HeadDim, int HeadCount, int KvHeadCount, float FreqBase, bool F16Cache);

/// <summary>
/// Weight-times-activations: <c>y[yOffset + t*yStride + rowOffset + r] (+)= sum_k W[r, k] x[xOffset + t*cols + k]</c> for one row chunk of a
/// weight matrix. With <see cref="TokensPerWorkgroup"/> = 1 it is the matrix-vector product of decoding; with more,
/// every weight load is reused across that many tokens (prefill). Two layouts (<see cref="MatmulLayout"/>), picked per
/// device by <see cref="LayoutFor(VulkanDevice, GgmlType, KernelSet)"/>.
/// </summary>
public sealed class MatmulKernel : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Push(uint Rows, uint Cols, uint NTokens, uint XOffset, uint YOffset, uint YStride, uint RowOffset, uint Accumulate);

    private readonly ComputeKernel _kernel;
    private readonly VulkanDevice _device;

    /// <summary>Weight type this kernel reads.</summary>
    public GgmlType WeightType { get; }
    public MatmulLayout Layout { get; }
    /// <summary>Lanes per workgroup.</summary>
    public uint WorkgroupSize { get; }
    /// <summary>Weight rows per workgroup.</summary>
    public uint RowsPerWorkgroup { get; }
    /// <summary>Tokens per workgroup: 1 for decode, more for prefill.</summary>
    public uint TokensPerWorkgroup { get; }
    /// <summary>Gate and up of a SwiGLU at once: Y = silu(W_gate X) * (W_up X). Rows-per-lane: W is gate and up interleaved
    /// in blocks of <see cref="WorkgroupSize"/> rows (<see cref="GpuMatrix.UploadInterleaved(VulkanDevice, string, GgmlType, int, int, byte*, byte*, int, int, QuantsAsF16)"/>) and rows counts both; wide
    /// split-k: W is the gate and the up matrix is bound with it.</summary>
    public bool Glu { get; }
    /// <summary>The RMSNorm before the projection fused: X is the residual stream, normalised in the kernel with the
    /// norm weights bound with it and epsilon <see cref="NormEps"/> (wide split-k only).</summary>
    public bool Norm { get; }
    public float NormEps { get; }
    /// <summary>The rope and cache append fused into the epilogue of the stacked QKV weights (wide split-k, with the
    /// norm; rows-per-lane); null when Y gets the plain products.</summary>
    public RopeFusion? Rope { get; }
    /// <summary>The RMSNorm after the projection in its epilogue (rows-per-lane, plain, <see cref="NormAfterFits"/>): Y is the
    /// residual stream, and the last workgroup to finish writes its normalised rows (epsilon <see cref="NormAfterEps"/>)
    /// to the buffer bound with it, as the rmsnorm_subgroup kernel would. Null: no norm.</summary>
    public float? NormAfterEps { get; }

    /// <summary>Whether a rows-per-lane projection of <paramref name="type"/> can apply the RMSNorm after it in its epilogue on
    /// <paramref name="device"/> with bits equal to <paramref name="norm"/>'s: that is the one-subgroup kernel, and a
    /// workgroup of the rows kernels is one subgroup of the same width (lavapipe: 8 lanes), so the last workgroup sums in
    /// the same order without barrier().</summary>
    public static bool NormAfterFits(VulkanDevice device, GgmlType type, RmsNormKernel norm)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(norm);
        return HasRowsLayout(type) && norm.Subgroup && norm.WorkgroupSize == RowsLayoutLanes(device) &&
               RowsLayoutLanes(device) == device.Info.SubgroupSize && device.Info.Kind == DeviceKind.Cpu;
    }

    /// <summary>
    /// The layout for <paramref name="type"/> on <paramref name="device"/>: rows-per-lane with the CPU kernel set where the
    /// type has it (<see cref="KernelSets.UseCpuKernels"/>), split-k otherwise.
    /// </summary>
    public static MatmulLayout LayoutFor(VulkanDevice device, GgmlType type, KernelSet kernels = KernelSet.Auto) =>
        HasRowsLayout(type) && KernelSets.UseCpuKernels(device, kernels) ? MatmulLayout.RowsPerLane : MatmulLayout.SplitK;

    /// <summary><see cref="LayoutFor(VulkanDevice, GgmlType, KernelSet)"/>, falling back to split-k where the rows-per-lane kernel cannot take
    /// <paramref name="cols"/> columns (<see cref="RowsLayoutFits"/>).</summary>
    public static MatmulLayout LayoutFor(VulkanDevice device, GgmlType type, int cols, KernelSet kernels = KernelSet.Auto)
    {
        MatmulLayout layout = LayoutFor(device, type, kernels);
        if (layout == MatmulLayout.RowsPerLane)
            return RowsLayoutFits(device, type, cols) ? layout : MatmulLayout.SplitK;
        return WideLayoutFits(type, cols) ? MatmulLayout.WideSplitK : layout;
    }

    /// <summary>Whether the wide split-k kernel can take a matrix of <paramref name="type"/> and <paramref name="cols"/> columns:
    /// F16 in whole 16-byte texels per row.</summary>
    public static bool WideLayoutFits(GgmlType type, int cols) => type == GgmlType.F16 && cols > 0 && cols % 8 == 0;

    /// <summary>True when <paramref name="layout"/> fuses the RMSNorm before the projection: wide split-k (GPUs). The
    /// rows-per-lane kernels (CPU devices) leave it to the rmsnorm kernel, or in decode to the projection before it
    /// (<see cref="NormAfterEps"/>): gathering the sum of squares and scaling X by
    /// the norm weights inside their k loop cost llvmpipe ~12 % of every norm-fused matmul, in each of the workgroups that
    /// read the same X; with the norms as dispatches of their own (rmsnorm_subgroup) tipo-200m F16 prefilled 512 tokens
    /// ~9 % faster and decoded as fast (README, Speed).</summary>
    public static bool FusesNorm(MatmulLayout layout) => layout == MatmulLayout.WideSplitK;

    /// <summary>True when a rows-per-lane kernel exists for <paramref name="type"/>.</summary>
    public static bool HasRowsLayout(GgmlType type) => type is GgmlType.F16 or GgmlType.F32 or GgmlType.Q8_0;

    /// <summary>True when the rows-per-lane kernel of <paramref name="type"/> also comes with the SwiGLU and rope fusions.</summary>
    public static bool HasFusedRowsVariants(GgmlType type) => type is GgmlType.F16 or GgmlType.F32 or GgmlType.Q8_0;

    /// <summary>Whether the rows-per-lane kernel can take a matrix of <paramref name="cols"/> columns: whole 16-byte texels
    /// per row.</summary>
    public static bool RowsLayoutFits(VulkanDevice device, GgmlType type, int cols)
    {
        ArgumentNullException.ThrowIfNull(device);
        int perTexel = type switch { GgmlType.F16 => 8, GgmlType.Q8_0 => 32, _ => 4 };   // Q8_0: whole blocks
        return HasRowsLayout(type) && cols % perTexel == 0;
    }

    /// <summary>
    /// Whether the driver of <paramref name="info"/> runs the Q8_0 rows-per-lane kernels slower than the F16 ones, so that
    /// Q8_0 matrices are better dequantised to F16 at upload (<see cref="QuantsAsF16.All"/>): llvmpipe from Mesa 23.2 on.
    /// Measured on a 2-core machine, tipo-200m, Q8_0 kernels against F16: Mesa 25.0.7 pp512 27 against 72-74 tok/s, tg32
    /// 8.6-9.2 against 17.5-18; Mesa 23.2.1 pp512 28 against 36, tg32 7.3-9.8 against 11.7-15.2; Mesa 22.3.6 runs them
    /// faster than F16 (pp512 ~60-70, tg32 22-27 against ~87 and ~20). Those newer llvmpipes make each texel fetch a masked
    /// call and place the Q8_0 block loop's 32 fetches and their unpacking ahead of the arithmetic: Mesa 25's decode
    /// kernel compiles to ~9k instructions, 5k of them spills. Also measured: Mesa 24.0.5 (LLVM 17) pp512 27 against 74,
    /// tg32 10 against 16; Mesa 25.2.8 (LLVM 20) pp512 27-29 against 72-74, tg32 9 against 20-21. 23.0 and 23.1 are not.
    /// </summary>
    public static bool Q8_0RowsSlowerThanF16(DeviceInfo info) => LlvmpipeMesaVersion(info) is { } mesa && mesa.CompareTo((23, 2)) >= 0;

    /// <summary>
    /// The <see cref="FetchLag"/> the float rows-per-lane kernels get on the driver of <paramref name="info"/>: 1 on
    /// llvmpipe from Mesa 23.2 to 24, 0 elsewhere. Mesa 23.2 makes each texel fetch a masked call, and LLVM then places
    /// all the rows' fetches of a texel column ahead of their arithmetic: the 16x8 F16 prefill kernel holds 128
    /// accumulators and 16 unpacked rows at once and spills ~6000 times. With lag 1 it spills ~3000 times, and the decode
    /// kernels half as often as before (lag 2 and 4 spill more, 8 as much as 0). Measured on a 2-core machine, tipo-200m F16,
    /// Mesa 23.2.1 pp512 35-41 -> 66-88 tok/s, Mesa 24.0.5 36-37 -> 74 (the same spill counts as 23.2), decode within
    /// noise on both. Mesa 25.0.7 and 25.2.8 schedule the loop themselves (their kernels are a third the size) and only
    /// gain instructions (25.0 pp512 73 -> 65-67); Mesa 22.3.6 is within noise either way.
    /// </summary>
    public static uint FetchLagFor(DeviceInfo info) =>
        LlvmpipeMesaVersion(info) is { } mesa && mesa.CompareTo((23, 2)) >= 0 && mesa.CompareTo((25, 0)) < 0 ? 1u : 0u;

    /// <summary>
    /// Whether the rows-per-lane prefill kernels share X across lanes (<see cref="XShared"/>) on the driver of
    /// <paramref name="info"/>: llvmpipe, whose Mesa version reads. There each texel fetch is a call of ~45 instructions,
    /// and the 16 x 16 tile makes 48 of them per texel column, 32 for X alone; sharing leaves 20. Lane l fetches for
    /// 8 tokens and each lane takes the others' with subgroupShuffle from constant lanes. Measured on a 2-core machine,
    /// tipo-200m F16 pp512, two model copies in one process alternating (2026-11-27): Mesa 22.3.6 1.208x (10 rounds, won
    /// 10) and 1.224x (6 of 6) against not sharing, whose subgroupBroadcast (the earlier way to share) had cost more than
    /// the fetches it saved (85-90 -> 59 tok/s, 16 x 8 tile); on Mesa 23.2.1 and 25.0.7, which gained from sharing by
    /// broadcast (pp512 71-73 -> 75-77 and 69-72 -> 83-90 tok/s at 16 x 8), shuffles against broadcasts 0.986x and
    /// 0.982x (6 rounds each, won 3 and 2): alike. Q8_0's own kernel (8 tokens, 8 X fetches per block and token before)
    /// on Mesa 22.3.6, tipo-200m Q8_0: 1.020x (6 rounds, won 6) and 1.040x (8 of 8); 16 tokens shared 0.996x against 8.
    /// </summary>
    public static bool SharesXFor(DeviceInfo info) => LlvmpipeMesaVersion(info) != null;

    /// <summary>Whether a rows-per-lane prefill kernel can share X on <paramref name="device"/>: its workgroup
    /// (<see cref="RowsLayoutLanes"/>) is exactly one subgroup of at least 8 lanes, with subgroupShuffle (lane l fetches
    /// token 8 g + l of each group g of 8 tokens).</summary>
    private static bool SharedXFits(VulkanDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        DeviceInfo info = device.Info;
        return info.SubgroupShuffle && info.FixedSubgroupSize && RowsLayoutLanes(device) == info.SubgroupSize && info.SubgroupSize >= 8;
    }

    /// <summary>Why Tipo's kernels compute wrong results on this device, or null: llvmpipe from Mesa 25 with subgroups wider
    /// than 8 lanes (LP_NATIVE_VECTOR_WIDTH=512; llvmpipe's default is 256 bits, 8 lanes). Measured on Mesa 25.0.7 at 512
    /// bits: the rows-per-lane matmuls, the RMSNorm and attention kernels fail their CPU references (NMSE ~1), where Mesa
    /// 22.3.6 and 23.2.1 at 512 bits and every version at 256 pass. Mesa 24 is unmeasured and not refused.</summary>
    public static string? WrongResultsOn(DeviceInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return LlvmpipeMesaVersion(info) is { } mesa && mesa.CompareTo((25, 0)) >= 0 && info.SubgroupSize > 8
            ? $"{info.Name}, {info.DriverInfo}, runs {info.SubgroupSize}-lane subgroups (LP_NATIVE_VECTOR_WIDTH={info.SubgroupSize * 32}), " +
              "where Mesa 25's llvmpipe computes Tipo's kernels wrongly; unset LP_NATIVE_VECTOR_WIDTH or set it to 256"
            : null;
    }

    /// <summary>The Mesa major and minor version of an llvmpipe (lavapipe) driver, from its DriverInfo ("Mesa 23.2.1-1ubuntu3
    /// (LLVM 15.0.7)"); null for other drivers and GPUs, or where the version cannot be read.</summary>
    private static (int Major, int Minor)? LlvmpipeMesaVersion(DeviceInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.Kind != DeviceKind.Cpu || !info.DriverName.Contains("llvmpipe", StringComparison.OrdinalIgnoreCase)) return null;
        var mesa = System.Text.RegularExpressions.Regex.Match(info.DriverInfo, @"Mesa (\d+)\.(\d+)");
        if (!mesa.Success) return null;
        return (int.Parse(mesa.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(mesa.Groups[2].ValueSpan, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Lanes per workgroup of the rows-per-lane kernels on <paramref name="device"/>: the interleave block of a
    /// SwiGLU matrix.</summary>
    public static int RowsLayoutLanes(VulkanDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return (int)Math.Clamp(Math.Max(1u, device.Info.SubgroupSize), 4u, 64u);
    }

    /// <summary>The row tile (<see cref="GpuMatrix.TileRows"/>) the rows-per-lane matrices are stored in on
    /// <paramref name="device"/>: the rows one decode workgroup reads (lanes x <see cref="DecodeRowsPerLane"/>), so each
    /// decode workgroup streams one tile.</summary>
    public static int RowsLayoutTileRows(VulkanDevice device) => RowsLayoutLanes(device) * (int)DecodeRowsPerLane;

    /// <summary>The <see cref="GpuMatrix.TileRows"/> for a matrix of <paramref name="gpuType"/> and <paramref name="cols"/>
    /// columns that the rows-per-lane kernels will read: <see cref="RowsLayoutTileRows"/> where its rows can be tiled, else 0.</summary>
    public static int RowsTileFor(VulkanDevice device, GgmlType gpuType, int cols) =>
        RowsLayoutFits(device, gpuType, cols) && GpuMatrix.CanTile(gpuType, cols) ? RowsLayoutTileRows(device) : 0;

    /// <summary>Which rotation pairs a rope-fused kernel of <paramref name="layout"/> rotates (<see cref="RopeFusion"/>).</summary>
    public static RopeLayout RopePairsOf(MatmulLayout layout) => layout switch
    {
        MatmulLayout.WideSplitK => RopeLayout.Interleaved,
        MatmulLayout.RowsPerLane => RopeLayout.RotateHalf,
        _ => throw new ArgumentOutOfRangeException(nameof(layout), layout, "the split-k matmuls have no rope epilogue"),
    };

    /// <summary>Whether the QKV matmul of <paramref name="layout"/> over <paramref name="type"/> weights can take the rope of
    /// <paramref name="pairs"/> in its epilogue on <paramref name="device"/> (<see cref="RopePairsOf"/>; rows-per-lane: the
    /// types of <see cref="HasFusedRowsVariants"/>, <see cref="RowsRopeFits"/>).</summary>
    public static bool RopeFits(VulkanDevice device, MatmulLayout layout, GgmlType type, RopeLayout pairs, int headDim, bool f16Cache) => layout switch
    {
        MatmulLayout.WideSplitK => pairs == RopePairsOf(layout),
        MatmulLayout.RowsPerLane => pairs == RopePairsOf(layout) && HasFusedRowsVariants(type) && RowsRopeFits(device, headDim, f16Cache),
        _ => false,
    };

    /// <summary>Whether the rows-per-lane QKV matmul can rope heads of <paramref name="headDim"/> in its epilogue on
    /// <paramref name="device"/>: both rows of every rotate-half pair in one lane (headDim/2 a multiple of the lanes,
    /// lanes x rows per lane a multiple of headDim, decode and prefill alike) and, for an f16 cache, 16-bit stores.</summary>
    public static bool RowsRopeFits(VulkanDevice device, int headDim, bool f16Cache)
    {
        ArgumentNullException.ThrowIfNull(device);
        int lanes = RowsLayoutLanes(device);
        return headDim > 0 && headDim % 2 == 0 && headDim / 2 % lanes == 0 &&
               lanes * (int)DecodeRowsPerLane % headDim == 0 && lanes * (int)PrefillRowsPerLane % headDim == 0 &&
               (!f16Cache || device.Info.Storage16Bit);
    }

    /// <summary>Weight rows per lane of the rows-per-lane decode kernels.</summary>
    public const uint DecodeRowsPerLane = 16;
    /// <summary>Weight rows per lane of the rows-per-lane prefill kernels.</summary>
    public const uint PrefillRowsPerLane = 16;
    /// <summary>Tokens per workgroup of the <paramref name="layout"/> prefill kernels of <paramref name="weightType"/> on
    /// <paramref name="device"/>: 16 for the float rows-per-lane kernels on llvmpipe, else 8 (the wide split-k kernels
    /// take their own). Measured on a 2-core AMD EPYC (Zen 5)
    /// with tipo-200m F16, pp512, two models in one process alternating (2026-11-27): 16 against 8 tokens 1.054x by
    /// median over 10 rounds on Mesa 22.3.6 (1.206x with llvmpipe's code limited to AVX2,
    /// GALLIUM_OVERRIDE_CPU_CAPS=avx), 1.167x on Mesa 25.0.7 and 1.196x on 23.2.1 (X shared by groups of 8 tokens);
    /// 24 or 32 tokens no better (0.956x, 1.008x against 16), tipo-500m 1.127x; Q8_0's own kernel 0.971x, so it keeps 8.</summary>
    public static uint PrefillTokensFor(VulkanDevice device, GgmlType weightType, MatmulLayout layout)
    {
        ArgumentNullException.ThrowIfNull(device);
        return layout == MatmulLayout.RowsPerLane && LlvmpipeMesaVersion(device.Info) != null && weightType != GgmlType.Q8_0 ? 16u : 8u;
    }

    /// <summary>The <see cref="GpuMatrix.TileRows"/> this kernel reads (0: row-major).</summary>
    public int TileRows { get; }

    /// <summary>The float rows-per-lane kernels' fetch-order anchor (<see cref="FetchLagFor"/>): above 0, row r's weight
    /// fetch takes an address term computed from row r - FetchLag's accumulators that is always 0 but unknown to the
    /// compiler, so that fetch cannot be scheduled before that row's products (Shaders/include/matmul_rows.glsl). 0 for
    /// the other kernels.</summary>
    public uint FetchLag { get; }

    /// <summary>The rows-per-lane prefill kernels' shared X (<see cref="SharesXFor"/>): lane l fetches token 8 g + l's
    /// X texels for each group g of 8 tokens and every lane takes each token's from its lane with subgroupShuffle, 2 texel
    /// fetches per group and column instead of 2 per token (Shaders/include/matmul_rows.glsl, matmul_rows_q8_0.glsl).</summary>
    public bool XShared { get; }

    /// <param name="forceSharedReduction">Reduce through shared memory even where subgroupAdd exists (tests the fallback; split-k only).</param>
    /// <param name="layout">The layout; null picks <see cref="LayoutFor(VulkanDevice, GgmlType, KernelSet)"/>.</param>
    /// <param name="glu">The fused SwiGLU gate/up kernel (rows-per-lane and wide split-k).</param>
    /// <param name="normEps">Non-null: fuse the RMSNorm with this epsilon before the product (wide split-k only).</param>
    /// <param name="tileRows">The <see cref="GpuMatrix.TileRows"/> of the matrices it will read (rows-per-lane only; 0: row-major).</param>
    /// <param name="rope">Non-null: the stacked QKV projection with the rope and cache append in its epilogue (without
    /// glu; wide split-k with normEps; <see cref="RopeFits"/>).</param>
    /// <param name="normAfterEps">Non-null: apply the RMSNorm after the product in the epilogue with this epsilon
    /// (rows-per-lane, without glu or rope; the caller checks <see cref="NormAfterFits"/>).</param>
    /// <param name="fetchLag">The <see cref="FetchLag"/> of a float rows-per-lane kernel; null picks <see cref="FetchLagFor"/>.</param>
    /// <param name="shareX">The <see cref="XShared"/> of a rows-per-lane prefill kernel; null picks <see cref="SharesXFor"/>
    /// where it fits.</param>
    public MatmulKernel(VulkanDevice device, GgmlType weightType, uint tokensPerWorkgroup, bool forceSharedReduction = false, MatmulLayout? layout = null,
        bool glu = false, float? normEps = null, int tileRows = 0, RopeFusion? rope = null, float? normAfterEps = null, uint? fetchLag = null,
        bool? shareX = null)
    {
        NormAfterEps = normAfterEps;
        Rope = rope;
        if (rope != null && glu)
            throw new ArgumentException("the rope is fused into the QKV projection, not the SwiGLU", nameof(rope));
        ArgumentOutOfRangeException.ThrowIfNegative(tileRows);
        TileRows = tileRows;
        Glu = glu;
        Norm = normEps.HasValue;
        NormEps = normEps ?? 0;
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        WeightType = weightType;
        Layout = layout ?? LayoutFor(device, weightType);
        if (Layout == MatmulLayout.RowsPerLane)
        {
            if (!HasRowsLayout(weightType))
                throw new ArgumentOutOfRangeException(nameof(layout), $"no rows-per-lane matmul kernel for {weightType}");
            if (Norm)
                throw new ArgumentOutOfRangeException(nameof(normEps), "the rows-per-lane kernels do not fuse the RMSNorm (FusesNorm): run the rmsnorm kernel first");
            if ((glu || rope != null) && !HasFusedRowsVariants(weightType))
                throw new ArgumentOutOfRangeException(glu ? nameof(glu) : nameof(rope), $"no fused SwiGLU/rope rows-per-lane kernel for {weightType}");
            // Measured on lavapipe (8-wide lanes, 2 threads), tipo-200m F16 in row tiles: decode 16 rows per lane (22-25
            // tok/s, against 9.4 with 4 rows, 18-24 with 8 and 25-26 with 32, in tiles of 256). Prefill (the loops
            // [[unroll]]ed, row tiles): 16 rows x 8 tokens for F16/F32 (pp512 65-90 tok/s in five rounds, against 54-68
            // for 8x12, 62-63 for 16x12 and 56-62 for 16x4; before the row tiles 4x8 gave 48-54 at pp256); Q8_0's own
            // kernel the same 16 x 8 since it fetches each X texel once for all its rows (tipo-200m Q8_0 pp512 60-66
            // tok/s, against 50 with 4 rows and 52-62 with 8). The float kernels' tokens are the caller's: on llvmpipe
            // now 16 (PrefillTokensFor), which those rounds on another machine had not tried.
            WorkgroupSize = (uint)RowsLayoutLanes(device);
            bool decode = tokensPerWorkgroup == 1;
            uint rowsPerLane = decode ? DecodeRowsPerLane : PrefillRowsPerLane;
            TokensPerWorkgroup = tokensPerWorkgroup;
            RowsPerWorkgroup = WorkgroupSize * rowsPerLane;
            if (rope != null && !RowsRopeFits(device, rope.HeadDim, rope.F16Cache))
                throw new ArgumentOutOfRangeException(nameof(rope), $"the rows-per-lane matmul cannot rope heads of {rope.HeadDim} on {device.Info.Name} ({WorkgroupSize} lanes{(rope.F16Cache ? ", 16-bit stores for the f16 cache" : "")}); rope with rope_kv_store");
            if (normAfterEps != null && (glu || rope != null))
                throw new ArgumentException("the norm after a projection is for the plain rows-per-lane kernels", nameof(normAfterEps));
            string name = "matmul_rows_" + (glu ? "glu_" : "") + (rope != null ? "rope_" : "") + (normAfterEps != null ? "norm_" : "") + weightType switch
            {
                GgmlType.F16 => "f16",
                GgmlType.Q8_0 => "q8_0",
                _ => "f32",
            };
            var kinds = new List<BindingKind> { BindingKind.UniformTexelBuffer, BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer };
            if (rope != null) kinds.AddRange([BindingKind.StorageBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer]);
            if (normAfterEps != null) kinds.AddRange([BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer, BindingKind.StorageBuffer]);
            FetchLag = weightType == GgmlType.Q8_0 ? 0 : fetchLag ?? FetchLagFor(device.Info);   // Q8_0 has its own block loop
            if (FetchLag >= rowsPerLane)
                throw new ArgumentOutOfRangeException(nameof(fetchLag), FetchLag, $"the fetch lag must be below the {rowsPerLane} rows per lane");
            bool canShareX = !decode && SharedXFits(device);
            if (shareX == true && !canShareX)
                throw new ArgumentOutOfRangeException(nameof(shareX), $"X cannot be shared across the lanes of this kernel on {device.Info.Name}: prefill, a workgroup of one subgroup of at least 8 lanes with subgroupShuffle");
            XShared = canShareX && (shareX ?? SharesXFor(device.Info));
            uint[] spec = [WorkgroupSize, rowsPerLane, TokensPerWorkgroup, BitConverter.SingleToUInt32Bits(normAfterEps ?? 0f), (uint)tileRows,
                           // 5-9: the rope's, as in qkv_rope.glsl (unused without it); 10: the fetch lag
                           (uint)(rope?.HeadDim ?? 0), (uint)(rope?.HeadCount ?? 0), (uint)(rope?.KvHeadCount ?? 0),
                           BitConverter.SingleToUInt32Bits(rope?.FreqBase ?? 0f), rope?.F16Cache == true ? 1u : 0u, FetchLag, XShared ? 1u : 0u];
            _kernel = new ComputeKernel(device, name, kinds.ToArray(), Marshal.SizeOf<Push>(), spec);
            return;
        }
        if (tileRows > 0)
            throw new ArgumentOutOfRangeException(nameof(tileRows), "the split-k matmuls read row-major matrices only");
        if (normAfterEps != null)
            throw new ArgumentOutOfRangeException(nameof(normAfterEps), "the norm after a projection exists in the rows-per-lane layout only");
        uint useSubgroupAdd = device.Info.SubgroupArithmetic && !forceSharedReduction ? 1u : 0u;
        if (Layout == MatmulLayout.WideSplitK)
        {
            if (weightType != GgmlType.F16)
                throw new ArgumentOutOfRangeException(nameof(layout), $"no wide split-k matmul kernel for {weightType}");
            // One subgroup per workgroup, as below. Measured on an H200 with tipo-500m (bench, one run each):
            // decode 2 rows per workgroup (tg128 853 tok/s, against 847 with 1 row, 739 with 4, 558 with 8: more workgroups
            // in flight); prefill 4 rows x 4 tokens (pp512 8464 tok/s, against 7019 for 2x8, 6638 for 8x4, 6141 for 4x8
            // and 2755 for 4x16, whose accumulators spill). 4 texel columns in flight per lane (decode tg128 952 tok/s,
            // against 990 with 2 and 879 with 8; prefill 4x8: 6141, against 6378 with 2 and 6455 with 8: within noise).
            WorkgroupSize = Math.Clamp(Math.Max(1u, device.Info.SubgroupSize), 8u, 64u);
            TokensPerWorkgroup = tokensPerWorkgroup == 1 ? 1u : 4u;
            RowsPerWorkgroup = tokensPerWorkgroup == 1 ? 2u : 4u;
            const uint unroll = 4;
            if (rope != null)
            {
                if (!Norm)
                    throw new ArgumentException("the wide split-k kernel fuses the rope into the norm-fused QKV projection only", nameof(rope));
                if (rope.HeadDim <= 0 || rope.HeadDim % 2 != 0)
                    throw new ArgumentOutOfRangeException(nameof(rope), $"headDim must be even and positive, got {rope.HeadDim}");
                _kernel = new ComputeKernel(device, "matmul_wide_rope_norm_f16", bindingCount: 7, Marshal.SizeOf<Push>(),
                    [WorkgroupSize, RowsPerWorkgroup, TokensPerWorkgroup, useSubgroupAdd, BitConverter.SingleToUInt32Bits(NormEps),
                     (uint)rope.HeadDim, (uint)rope.HeadCount, (uint)rope.KvHeadCount, BitConverter.SingleToUInt32Bits(rope.FreqBase), rope.F16Cache ? 1u : 0u, unroll]);
                return;
            }
            int bindings = 3 + (Norm ? 1 : 0) + (glu ? 1 : 0);
            _kernel = new ComputeKernel(device, "matmul_wide_" + (glu ? "glu_" : "") + (Norm ? "norm_" : "") + "f16", bindings,
                Marshal.SizeOf<Push>(), [WorkgroupSize, RowsPerWorkgroup, TokensPerWorkgroup, useSubgroupAdd, BitConverter.SingleToUInt32Bits(NormEps),
                 0, 0, 0, 0, 0, unroll]);   // ids 5-9 are the rope's (unused here), 10 the unroll
            return;
        }
        if (glu || Norm || rope != null)
            throw new ArgumentOutOfRangeException(nameof(glu), "the fused SwiGLU and rope matmuls exist in the rows-per-lane and wide split-k layouts only, the fused RMSNorm in wide split-k");
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
        _kernel = new ComputeKernel(device, shader, bindingCount: 3, pushConstantBytes: Marshal.SizeOf<Push>(),
            [WorkgroupSize, RowsPerWorkgroup, TokensPerWorkgroup, useSubgroupAdd]);
    }

    /// <summary>Binds one weight chunk with its input and output (a descriptor set written once).</summary>
    /// <param name="weights">[rows, cols] in <see cref="WeightType"/> (Q8_0 repacked: quants then scales).</param>
    /// <param name="x">[nTokens, cols] f32.</param>
    /// <param name="y">[nTokens, yStride] f32.</param>
    /// <param name="norm">[cols] f32: the RMSNorm weights, for a kernel made with normEps (then x is the un-normalised input).</param>
    /// <param name="up">[rows, cols]: the SwiGLU's up matrix, for a wide split-k kernel made with glu (weights is the gate).</param>
    /// <param name="cache">For a kernel made with <see cref="Rope"/>: the layer's K and V caches ([ctx, nKvHeads * headDim]
    /// f32 or f16) and the step buffer ({ uint pos0 }).</param>
    /// <param name="normAfter">For a kernel made with normAfterEps: the norm weights ([rows] f32), where the normalised rows
    /// go ([nTokens, rows] f32) and a counter ([1] u32, zero; the kernel leaves it zero), shared by every such dispatch
    /// of a sequence that a barrier separates.</param>
    public KernelBinding Bind(BufferRange weights, BufferRange x, BufferRange y, BufferRange? norm = null, BufferRange? up = null,
        (BufferRange Keys, BufferRange Values, BufferRange Step)? cache = null, (BufferRange Weights, BufferRange Normed, BufferRange Counter)? normAfter = null)
    {
        if ((NormAfterEps != null) != normAfter.HasValue)
            throw new ArgumentException(NormAfterEps != null ? "this kernel applies the norm after it: bind its weights, output and counter" : "this kernel has no norm after it; make it with normAfterEps", nameof(normAfter));
        if ((Rope != null) != cache.HasValue)
            throw new ArgumentException(Rope != null ? "this kernel ropes into the KV cache: bind the caches and the step buffer" : "only a rope-fused kernel takes the KV cache", nameof(cache));
        CheckNorm(norm);
        bool needsUp = Glu && Layout == MatmulLayout.WideSplitK;
        if (needsUp != up.HasValue)
            throw new ArgumentException(needsUp ? "this wide SwiGLU kernel reads the up matrix: bind it" : "only the wide SwiGLU kernel takes an up matrix", nameof(up));
        var ranges = new List<BufferRange> { weights, x, y };
        if (norm is { } n) ranges.Add(n);
        if (up is { } u) ranges.Add(u);
        if (cache is { } c) ranges.AddRange([c.Keys, c.Values, c.Step]);
        if (normAfter is { } na) ranges.AddRange([na.Weights, na.Normed, na.Counter]);
        return _kernel.Bind(ranges.ToArray());
    }

    private void CheckNorm(BufferRange? norm)
    {
        if (Norm != norm.HasValue)
            throw new ArgumentException(Norm ? "this kernel fuses an RMSNorm: bind its weights" : "this kernel has no fused RMSNorm; make it with normEps", nameof(norm));
    }

    /// <summary>Records Y (+)= W X for <paramref name="nTokens"/> tokens.</summary>
    public void Record(CommandSequence seq, KernelBinding binding, int rows, int cols, int nTokens,
        int xOffset, int yOffset, int yStride, int rowOffset, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentNullException.ThrowIfNull(binding);
        uint groupsX = (uint)((rows + RowsPerWorkgroup - 1) / RowsPerWorkgroup);
        if (Glu && accumulate)
            throw new ArgumentException("the SwiGLU matmul cannot accumulate", nameof(accumulate));
        if (Rope is { } r && (rowOffset != 0 || xOffset != 0 || yOffset != 0 || accumulate || rows != (r.HeadCount + 2 * r.KvHeadCount) * r.HeadDim))
            throw new ArgumentException($"the rope-fused matmul takes the whole stacked QKV matrix ({(r.HeadCount + 2 * r.KvHeadCount) * r.HeadDim} rows) at row 0 for tokens from 0 (their positions come from the step buffer), without accumulating", nameof(rows));
        if (Layout == MatmulLayout.WideSplitK)
        {
            if (!WideLayoutFits(WeightType, cols))
                throw new ArgumentOutOfRangeException(nameof(cols), $"the wide split-k matmul cannot take {cols} {WeightType} columns (whole 16-byte texels per row); use the split-k layout");
            if (xOffset % 4 != 0)
                throw new ArgumentOutOfRangeException(nameof(xOffset), $"the wide split-k matmul needs xOffset % 4 == 0, got {xOffset}");
        }
        if (Layout != MatmulLayout.RowsPerLane)
        {
            var push = new Push((uint)rows, (uint)cols, (uint)nTokens, (uint)xOffset, (uint)yOffset, (uint)yStride, (uint)rowOffset, accumulate ? 1u : 0u);
            seq.Dispatch(binding, push, groupsX, (uint)((nTokens + TokensPerWorkgroup - 1) / TokensPerWorkgroup));
            return;
        }

        if (!RowsLayoutFits(_device, WeightType, cols))
            throw new ArgumentOutOfRangeException(nameof(cols), $"the rows-per-lane {WeightType} matmul cannot take {cols} columns (whole 16-byte texels per row); use the split-k layout");
        if (xOffset % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(xOffset), $"rows-per-lane matmul needs xOffset % 4 == 0, got {xOffset}");
        if (NormAfterEps != null && (rowOffset != 0 || rows % 4 != 0))
            throw new ArgumentException($"the norm after a projection needs the whole vector (row 0 on, rows a multiple of 4), got rows {rowOffset}..{rowOffset + rows}", nameof(rows));
        var rowsPush = new Push((uint)rows, (uint)cols, (uint)nTokens, (uint)xOffset, (uint)yOffset, (uint)yStride, (uint)rowOffset, accumulate ? 1u : 0u);
        seq.Dispatch(binding, rowsPush, groupsX, (uint)((nTokens + TokensPerWorkgroup - 1) / TokensPerWorkgroup));
    }

    public void Dispose() => _kernel.Dispose();
}
