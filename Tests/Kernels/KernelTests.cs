using Tipo.Models;
using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Tests.Vulkan;
using Tipo.Vulkan;

namespace Tipo.Tests.Kernels;

/// <summary>Every kernel against its plain C# reference on the test device (odd sizes, several workgroups).</summary>
public class KernelTests : GpuTest
{
    private const double ElementwiseTol = 1e-10;
    private const double ReductionTol = 1e-6;

    private GpuBuffer Upload<T>(T[] data, string name) where T : unmanaged
    {
        var b = new GpuBuffer(Device, (long)data.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), name);
        b.Upload<T>(data);
        return b;
    }

    private static float[] Read(GpuBuffer b, int n)
    {
        var a = new float[n];
        b.Download<float>(a);
        return a;
    }

    private void Run(Action<CommandSequence> record)
    {
        using var seq = new CommandSequence(Device);
        seq.Begin();
        record(seq);
        seq.End();
        seq.Submit();
    }

    [TestCase(GgmlType.F32, false, 77, 131, 1)]
    [TestCase(GgmlType.F32, false, 301, 512, 3)]
    [TestCase(GgmlType.F32, true, 301, 516, 2)]
    [TestCase(GgmlType.F32, false, 1000, 64, 1)]
    [TestCase(GgmlType.F16, false, 77, 130, 1)]
    [TestCase(GgmlType.F16, false, 301, 520, 3)]
    [TestCase(GgmlType.F16, true, 33, 1000, 2)]
    [TestCase(GgmlType.F16, true, 5, 8, 1)]
    [TestCase(GgmlType.F16, false, 67, 262, 11)]
    [TestCase(GgmlType.F16, false, 130, 1024, 17)]
    [TestCase(GgmlType.F32, true, 130, 1024, 9)]
    [TestCase(GgmlType.F32, false, 31, 99, 8)]
    public unsafe void Matvec_MatchesReference(GgmlType type, bool sharedReduction, int rows, int cols, int nTokens)
    {
        float[] w = Reference.Random(rows * cols, 10);
        float[] x = Reference.Random(nTokens * cols, 11);
        float[] wRef = type == GgmlType.F16 ? Reference.FromHalf(Reference.ToHalf(w)) : w;
        byte[] raw = type == GgmlType.F16
            ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Reference.ToHalf(w).AsSpan()).ToArray()
            : System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan()).ToArray();
        GpuMatrix matrix;
        fixed (byte* p = raw) matrix = GpuMatrix.Upload(Device, "w", type, rows, cols, p);
        using var _ = matrix;
        using GpuBuffer xb = Upload(x, "x");
        using var yb = new GpuBuffer(Device, (long)nTokens * rows * 4, "y");
        using var k = new MatmulKernel(Device, type, nTokens == 1 ? 1u : 8u, forceSharedReduction: sharedReduction, layout: MatmulLayout.SplitK);
        KernelBinding b = k.Bind(matrix.Chunks[0].Buffer, xb, yb);
        Run(s => k.Record(s, b, rows, cols, nTokens, xOffset: 0, yOffset: 0, yStride: rows, rowOffset: 0, accumulate: false));
        float[] got = Read(yb, nTokens * rows);
        var expected = new float[nTokens * rows];
        for (int t = 0; t < nTokens; t++)
            Reference.MatVec(wRef, x[(t * cols)..((t + 1) * cols)], rows, cols).CopyTo(expected, t * rows);
        Reference.AssertNmse(got, expected, ReductionTol, $"matvec {type} {rows}x{cols} shared={sharedReduction}");
    }

    /// <summary>The rows-per-lane layout (weights and X through texel buffers): decode and prefill, W row-major and in
    /// row tiles (the engine's, and one that is not a workgroup's rows), a start inside X (xOffset), long runs of tokens
    /// (more than the 64 KiB uniform window the kernel once read X through), row offset and accumulate, the fetch-order
    /// anchor and X shared across lanes.</summary>
    [TestCase(GgmlType.F16, 77, 136, 1, 0)]
    [TestCase(GgmlType.F16, 301, 520, 3, 0)]
    [TestCase(GgmlType.F16, 2304, 768, 45, 768)]     // 45 tokens of 3 KiB: 135 KiB of X
    [TestCase(GgmlType.F16, 64, 3840, 9, 3840)]      // 15 KiB per token
    [TestCase(GgmlType.F32, 130, 1024, 9, 4)]
    [TestCase(GgmlType.F32, 5, 172, 1, 172)]         // stories260K's hidden size
    [TestCase(GgmlType.F32, 1000, 64, 130, 0)]       // 130 tokens: a partial last tile
    public unsafe void MatmulRowsPerLane_MatchesReference(GgmlType type, int rows, int cols, int nTokens, int xOffset)
    {
        float[] w = Reference.Random(rows * cols, 10);
        float[] x = Reference.Random(xOffset + nTokens * cols, 11);
        float[] wRef = type == GgmlType.F16 ? Reference.FromHalf(Reference.ToHalf(w)) : w;
        byte[] raw = type == GgmlType.F16
            ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Reference.ToHalf(w).AsSpan()).ToArray()
            : System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan()).ToArray();
        const int rowOffset = 3;
        int yStride = rows + 5;
        float[] y0 = Reference.Random(nTokens * yStride, 12);
        using GpuBuffer xb = Upload(x, "x");
        using GpuBuffer yb = Upload(y0, "y");
        // Every tile plainly; the engine's tile with the per-driver variants too (fetch lags, X shared in prefill). Each
        // combination is a pipeline of its own, and llvmpipe 22.3 takes ~2 s to compile a prefill one.
        int engineTile = MatmulKernel.RowsLayoutTileRows(Device);
        var variants = new List<(int TileRows, uint Tokens, uint FetchLag, bool ShareX)>();
        foreach (uint tokens in nTokens == 1 ? new[] { 1u } : new[] { 1u, 8u })
        {
            foreach (int tileRows in new[] { 0, 24, engineTile }) variants.Add((tileRows, tokens, 0, false));
            variants.AddRange([(engineTile, tokens, 1, false), (engineTile, tokens, 3, false)]);
            if (tokens > 1) variants.AddRange([(engineTile, tokens, 0, true), (engineTile, tokens, 1, true)]);
        }
        // The llvmpipe default of 16 tokens, X shared by two groups of 8; 12, a second group only half used.
        if (nTokens > 1) variants.AddRange([(engineTile, 16, 0, false), (engineTile, 16, 0, true), (engineTile, 12, 1, true)]);
        foreach (var (tileRows, tokensPerGroup, fetchLag, shareX) in variants)
        {
            GpuMatrix matrix;
            fixed (byte* p = raw) matrix = GpuMatrix.Upload(Device, "w", type, rows, cols, p, tileRows: tileRows);
            using var _ = matrix;
            yb.Upload<float>(y0);
            using var k = new MatmulKernel(Device, type, tokensPerGroup, layout: MatmulLayout.RowsPerLane, tileRows: tileRows, fetchLag: fetchLag, shareX: shareX);
            KernelBinding b = k.Bind(matrix.Chunks[0].Buffer, xb, yb);
            Run(s => k.Record(s, b, rows, cols, nTokens, xOffset, yOffset: 0, yStride, rowOffset, accumulate: true));
            float[] got = Read(yb, nTokens * yStride);
            float[] expected = (float[])y0.Clone();
            for (int t = 0; t < nTokens; t++)
            {
                float[] wx = Reference.MatVec(wRef, x[(xOffset + t * cols)..(xOffset + (t + 1) * cols)], rows, cols);
                for (int r = 0; r < rows; r++) expected[t * yStride + rowOffset + r] += wx[r];
            }
            Reference.AssertNmse(got, expected, ReductionTol, $"rows-per-lane {type} {rows}x{cols} x{nTokens} T{tokensPerGroup} tile {tileRows} lag {fetchLag} shared X {shareX}");
        }
    }

    private static byte[] QuantizeQ8_0(float[] w)
    {
        byte[] q = new byte[w.Length / 32 * 34];
        Quantize.Q8_0(w, q);
        return q;
    }

    /// <summary>The norm after a projection (decode on CPU devices): Y gets the product as before, and XNorm gets exactly
    /// the bits the rmsnorm kernel writes for that Y, however many workgroups finish in whatever order; the counter is left
    /// zero, so the same binding runs again.</summary>
    [TestCase(GgmlType.F16, 768, 256)]   // tipo-200m's residual, 6 workgroups
    [TestCase(GgmlType.F32, 100, 64)]    // fewer rows than one workgroup's
    [TestCase(GgmlType.Q8_0, 260, 256)]
    [TestCase(GgmlType.F16, 768, 256, 1u)]   // the fetch-order anchor on (Mesa 23.2-24's): the same bits as without
    public unsafe void RowsMatmul_NormAfter_WritesTheRmsNormKernelsBits(GgmlType type, int rows, int cols, uint fetchLag = 0)
    {
        using var norm = new RmsNormKernel(Device, RmsNormKernel.UsesSubgroupKernel(Device, KernelSet.Cpu, rows));
        if (!MatmulKernel.NormAfterFits(Device, type, norm))
            Assert.Ignore($"{Device.Info.Name}: the rows-per-lane kernels cannot apply the norm after them here");
        float[] w = Reference.Random(rows * cols, 13);
        byte[] raw = type switch
        {
            GgmlType.F16 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(Reference.ToHalf(w).AsSpan()).ToArray(),
            GgmlType.Q8_0 => QuantizeQ8_0(w),
            _ => System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan()).ToArray(),
        };
        float[] x = Reference.Random(cols, 14), y0 = Reference.Random(rows, 15, 3f), g = Reference.Random(rows, 16);
        const float eps = 1e-5f;
        int tileRows = MatmulKernel.RowsTileFor(Device, type, cols);
        GpuMatrix matrix;
        fixed (byte* p = raw) matrix = GpuMatrix.Upload(Device, "w", type, rows, cols, p, tileRows: tileRows);
        using var _ = matrix;
        using GpuBuffer xb = Upload(x, "x"), yb = Upload(y0, "y"), gb = Upload(g, "g");
        using var normed = new GpuBuffer(Device, rows * 4L, "normed");
        using var expectedNormed = new GpuBuffer(Device, rows * 4L, "rmsnorm out");
        using var counter = new GpuBuffer(Device, 16, "counter");
        counter.Clear();
        using var plain = new MatmulKernel(Device, type, 1, layout: MatmulLayout.RowsPerLane, tileRows: tileRows, fetchLag: 0);
        using var fused = new MatmulKernel(Device, type, 1, layout: MatmulLayout.RowsPerLane, tileRows: tileRows, normAfterEps: eps, fetchLag: fetchLag);
        KernelBinding pb = plain.Bind(matrix.Chunks[0].Buffer, xb, yb);
        KernelBinding fb = fused.Bind(matrix.Chunks[0].Buffer, xb, yb, normAfter: (gb, normed, counter));
        KernelBinding nb = norm.Bind(yb, gb, expectedNormed);

        // The reference: the plain product, then the rmsnorm kernel.
        Run(s => { plain.Record(s, pb, rows, cols, 1, 0, 0, rows, 0, accumulate: true); s.ComputeBarrier(); norm.Record(s, nb, 1, rows, eps); });
        float[] expectedY = Read(yb, rows), expected = Read(expectedNormed, rows);
        for (int run = 0; run < 2; run++)
        {
            yb.Upload<float>(y0);
            normed.Upload<float>(new float[rows]);
            Run(s => fused.Record(s, fb, rows, cols, 1, 0, 0, rows, 0, accumulate: true));
            Assert.That(Read(yb, rows), Is.EqualTo(expectedY), $"run {run}: the product");
            Assert.That(Read(normed, rows), Is.EqualTo(expected), $"run {run}: the norm's bits");
        }
        uint[] left = new uint[1];
        counter.Download<uint>(left);
        Assert.That(left[0], Is.Zero, "the counter is left zero");
    }

    /// <summary>A tiled matrix split into chunks: every chunk holds whole tiles (the last one padded), and the products
    /// over the chunks match the reference.</summary>
    [Test]
    public unsafe void TiledMatrix_SplitIntoChunks_OfWholeTiles()
    {
        const int rows = 150, cols = 256, tile = 16;
        var (raw, w) = RandomWeights(GgmlType.F16, rows, cols, 31);
        GpuMatrix m;
        fixed (byte* p = raw) m = GpuMatrix.Upload(Device, "w", GgmlType.F16, rows, cols, p, maxChunkBytes: 40 * 2 * cols, tileRows: tile);
        using var _ = m;
        Assert.That(m.TileRows, Is.EqualTo(tile));
        Assert.That(m.Chunks.Select(c => c.RowStart), Is.EqualTo(new[] { 0, 32, 64, 96, 128 }), "40 rows fit a chunk: 32 in whole tiles");
        Assert.That(m.Chunks[^1].Buffer.SizeBytes, Is.EqualTo(2L * tile * cols * 2), "the last chunk's 22 rows padded to two tiles of F16 rows");
        float[] x = Reference.Random(cols, 32);
        using GpuBuffer xb = Upload(x, "x");
        using var yb = new GpuBuffer(Device, rows * 4L, "y");
        using var k = new MatmulKernel(Device, GgmlType.F16, 1, layout: MatmulLayout.RowsPerLane, tileRows: tile);
        var bindings = m.Chunks.Select(c => k.Bind(c.Buffer, xb, yb)).ToArray();
        Run(s => { for (int i = 0; i < bindings.Length; i++) k.Record(s, bindings[i], m.Chunks[i].RowCount, cols, 1, 0, 0, rows, m.Chunks[i].RowStart, false); });
        Reference.AssertNmse(Read(yb, rows), Reference.MatVec(w, x, rows, cols), ReductionTol, "tiled chunks");
        fixed (byte* p = raw)
        {
            nint at = (nint)p;
            Assert.Throws<ArgumentException>(() => GpuMatrix.Upload(Device, "w", GgmlType.F16, rows, 12, (byte*)at, tileRows: tile), "12 halves are not whole texels");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new MatmulKernel(Device, GgmlType.F16, 1, layout: MatmulLayout.SplitK, tileRows: tile));
    }

    /// <summary>Random [rows, cols] weights as <paramref name="type"/> bytes, with the values the GPU will hold.</summary>
    private static (byte[] Raw, float[] Values) RandomWeights(GgmlType type, int rows, int cols, int seed)
    {
        float[] w = Reference.Random(rows * cols, seed);
        if (type == GgmlType.Q8_0)
        {
            byte[] q = new byte[rows * cols / 32 * 34];
            Quantize.Q8_0(w, q);
            var values = new float[rows * cols];
            Dequantize.ToFloat32(GgmlType.Q8_0, q, values);
            return (q, values);
        }
        byte[] raw = type == GgmlType.F16
            ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Reference.ToHalf(w).AsSpan()).ToArray()
            : System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan()).ToArray();
        return (raw, type == GgmlType.F16 ? Reference.FromHalf(Reference.ToHalf(w)) : w);
    }

    /// <summary>The rows-per-lane SwiGLU matmul (gate and up in one pass, silu(g) * u in the epilogue) against the
    /// separate operations; decode and prefill, every type with the fusion, the rows rounded up to the lanes. (These
    /// kernels leave the RMSNorm to the rmsnorm kernel.)</summary>
    [Test]
    public void MatmulRowsPerLane_Glu_MatchesSeparateOps(
        [Values(GgmlType.F16, GgmlType.F32, GgmlType.Q8_0)] GgmlType type, [Values(1, 13)] int nTokens, [Values(300, 2304)] int rows) =>
        GluMatchesSeparateOps(type, nTokens, rows, 0, nTokens > 1 ? false : null);

    /// <summary>The same with the per-driver variants: the fetch-order anchor (float kernels), and X shared across lanes
    /// in prefill (alone and with the anchor; Q8_0's kernel too).</summary>
    [TestCase(GgmlType.F16, 1, 1u, false)]
    [TestCase(GgmlType.F16, 13, 1u, false)]
    [TestCase(GgmlType.F16, 13, 0u, true)]
    [TestCase(GgmlType.F32, 13, 1u, true)]
    [TestCase(GgmlType.Q8_0, 13, 0u, true)]
    public void MatmulRowsPerLane_Glu_Variants_MatchSeparateOps(GgmlType type, int nTokens, uint fetchLag, bool shareX) =>
        GluMatchesSeparateOps(type, nTokens, 2304, fetchLag, nTokens > 1 ? shareX : null);

    private unsafe void GluMatchesSeparateOps(GgmlType type, int nTokens, int rows, uint fetchLag, bool? shareX)
    {
        int cols = type == GgmlType.F32 ? 64 : 768;
        int lanes = MatmulKernel.RowsLayoutLanes(Device), tile = MatmulKernel.RowsLayoutTileRows(Device);
        rows = (rows + lanes - 1) / lanes * lanes;   // gate and up interleave in blocks of the lanes (8 on lavapipe, 32 on NVIDIA)
        var (wRaw, w) = RandomWeights(type, rows, cols, 93);
        var (uRaw, u) = RandomWeights(type, rows, cols, 94);
        GpuMatrix wm;   // gate and up interleaved in blocks of the kernel's lanes, in row tiles as the engine stores them
        fixed (byte* pw = wRaw)
        fixed (byte* pu = uRaw)
            wm = GpuMatrix.UploadInterleaved(Device, "gate_up", type, rows, cols, pw, pu, lanes, tile);
        using var _w = wm;
        float[] x = Reference.Random(nTokens * cols, 95, 3f);
        using GpuBuffer xb = Upload(x, "x");
        using var yb = new GpuBuffer(Device, nTokens * rows * 4L, "y");
        using var k = new MatmulKernel(Device, type, nTokens == 1 ? 1u : MatmulKernel.PrefillTokensFor(Device, type, MatmulLayout.RowsPerLane), layout: MatmulLayout.RowsPerLane, glu: true, tileRows: tile, fetchLag: fetchLag,
            shareX: shareX);
        Assert.That(k.XShared, Is.EqualTo(shareX == true));
        Assert.That(k.FetchLag, Is.EqualTo(type == GgmlType.Q8_0 ? 0u : fetchLag), "Q8_0's block loop has no fetch-order anchor");
        KernelBinding b = k.Bind(wm.Chunks[0].Buffer, xb, yb);
        Run(s => k.Record(s, b, wm.Rows, cols, nTokens, 0, 0, rows, 0, accumulate: false));
        float[] expected = ExpectedFusedMatmul(w, u, x, null, 0f, rows, cols, nTokens);
        Reference.AssertNmse(Read(yb, expected.Length), expected, ReductionTol, $"swiglu matmul {type} {rows}x{cols} x{nTokens}");
    }

    /// <summary>The rows-per-lane kernels leave the RMSNorm to the rmsnorm kernel: asking one for it is an error.</summary>
    [Test]
    public void MatmulRowsPerLane_RefusesTheNorm() =>
        Assert.That(() => new MatmulKernel(Device, GgmlType.F16, 1, layout: MatmulLayout.RowsPerLane, normEps: 1e-5f),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("rmsnorm"));

    /// <summary>The wide split-k kernel's RMSNorm and SwiGLU fusions (gate and up as two matrices) against the separate
    /// ops, decode and prefill, with rows and tokens that leave partial workgroups and k loops with a tail.</summary>
    [TestCase(300, 768, 1, true, false)]
    [TestCase(2304, 768, 13, true, false)]
    [TestCase(301, 1288, 5, false, true)]
    [TestCase(2304, 768, 1, true, true)]
    [TestCase(45, 1288, 9, true, true)]
    public unsafe void MatmulWide_Fused_MatchesSeparateOps(int rows, int cols, int nTokens, bool glu, bool norm)
    {
        const float eps = 1e-5f;
        var (gm, gate) = UploadRandomF16("gate", rows, cols, 193);
        var (um, up) = UploadRandomF16("up", rows, cols, 194);
        using var _g = gm;
        using var _u = um;
        float[] x = Reference.Random(nTokens * cols, 195, 3f), g = Reference.Random(cols, 196);
        using GpuBuffer xb = Upload(x, "x");
        using GpuBuffer gb = Upload(g, "norm");
        using var yb = new GpuBuffer(Device, nTokens * rows * 4L, "y");
        using var k = new MatmulKernel(Device, GgmlType.F16, nTokens == 1 ? 1u : 8u, layout: MatmulLayout.WideSplitK, glu: glu, normEps: norm ? eps : null);
        KernelBinding b = k.Bind(gm.Chunks[0].Buffer, xb, yb, norm ? gb : default(BufferRange?), glu ? um.Chunks[0].Buffer : default(BufferRange?));
        Run(s => k.Record(s, b, rows, cols, nTokens, 0, 0, rows, 0, accumulate: false));
        float[] expected = ExpectedFusedMatmul(gate, glu ? up : null, x, norm ? g : null, eps, rows, cols, nTokens);
        Reference.AssertNmse(Read(yb, expected.Length), expected, ReductionTol, $"wide {(norm ? "norm-fused " : "")}{(glu ? "swiglu " : "")}matmul F16 {rows}x{cols} x{nTokens}");
    }

    /// <summary>The QKV matmul with the rope and cache append in its epilogue against the plain matmul followed by
    /// rope_kv_store: the same q in Y and the same k and v in the caches, decode and prefill; the wide split-k kernel
    /// with GGUF's interleaved pairs, the rows-per-lane kernel (F16 and F32) with rotate-half pairs, with and
    /// without the fetch-order anchor.</summary>
    [TestCase(MatmulLayout.WideSplitK, GgmlType.F16, false, 1)]
    [TestCase(MatmulLayout.WideSplitK, GgmlType.F16, true, 1)]
    [TestCase(MatmulLayout.WideSplitK, GgmlType.F16, true, 5)]
    [TestCase(MatmulLayout.WideSplitK, GgmlType.F16, false, 11)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F16, false, 1)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F16, true, 1)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F16, true, 11)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F32, false, 11)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F32, true, 5)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.Q8_0, false, 1)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.Q8_0, true, 11)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F16, false, 1, 1u)]   // the fetch-order anchor on
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F16, true, 11, 1u)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F16, true, 11, 0u, true)]     // X shared across lanes
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.Q8_0, true, 11, 0u, true)]
    [TestCase(MatmulLayout.RowsPerLane, GgmlType.F32, false, 11, 1u, true)]
    public unsafe void Matmul_RopeFused_MatchesMatmulThenRope(MatmulLayout layout, GgmlType type, bool f16Cache, int nTokens, uint fetchLag = 0,
        bool shareX = false)
    {
        const int headDim = 64, nHeads = 4, nKvHeads = 2, ctx = 32, pos0 = 3;
        int cols = type == GgmlType.Q8_0 ? 288 : 264;   // Q8_0: whole blocks of 32
        const float eps = 1e-5f, theta = 10000f;
        int rows = (nHeads + 2 * nKvHeads) * headDim, qDim = nHeads * headDim, kvDim = nKvHeads * headDim;
        if (layout == MatmulLayout.RowsPerLane && !MatmulKernel.RowsRopeFits(Device, headDim, f16Cache))
            Assert.Ignore($"{Device.Info.Name}: the rows-per-lane matmul cannot rope heads of {headDim} here");
        var (raw, _) = RandomWeights(type, rows, cols, 393);
        GpuMatrix wm;
        fixed (byte* p = raw) wm = GpuMatrix.Upload(Device, "qkv", type, rows, cols, p);
        using var _w = wm;
        RopeLayout pairs = MatmulKernel.RopePairsOf(layout);
        using GpuBuffer xb = Upload(Reference.Random(nTokens * cols, 395, 3f), "x");
        using GpuBuffer gb = Upload(Reference.Random(cols, 396), "norm");
        using GpuBuffer step = Upload(new uint[] { pos0, 0, 0, 0 }, "step");
        long cacheBytes = (long)ctx * kvDim * (f16Cache ? 2 : 4);
        using var kFused = new GpuBuffer(Device, cacheBytes, "k-fused");
        using var vFused = new GpuBuffer(Device, cacheBytes, "v-fused");
        using var kSep = new GpuBuffer(Device, cacheBytes, "k-separate");
        using var vSep = new GpuBuffer(Device, cacheBytes, "v-separate");
        using var yFused = new GpuBuffer(Device, nTokens * rows * 4L, "y-fused");
        using var ySep = new GpuBuffer(Device, nTokens * rows * 4L, "y-separate");
        foreach (var b in new[] { kFused, vFused, kSep, vSep, yFused, ySep }) b.Clear();
        uint tokens = nTokens == 1 ? 1u : MatmulKernel.PrefillTokensFor(Device, type, layout);
        // The wide kernel ropes in the norm-fused QKV projection; the rows-per-lane kernels take X normalised.
        float? normEps = MatmulKernel.FusesNorm(layout) ? eps : null;
        BufferRange? norm = normEps != null ? new BufferRange(gb, 0, gb.SizeBytes) : default(BufferRange?);
        using var fused = new MatmulKernel(Device, type, tokens, layout: layout, normEps: normEps,
            rope: new RopeFusion(headDim, nHeads, nKvHeads, theta, f16Cache), fetchLag: fetchLag, shareX: shareX ? true : null);
        using var plain = new MatmulKernel(Device, type, tokens, layout: layout, normEps: normEps, fetchLag: 0, shareX: shareX ? false : null);
        using var rope = new RopeKvStoreKernel(Device, f16Cache, headDim);
        KernelBinding fb = fused.Bind(wm.Chunks[0].Buffer, xb, yFused, norm, cache: (kFused, vFused, step));
        KernelBinding pb = plain.Bind(wm.Chunks[0].Buffer, xb, ySep, norm);
        KernelBinding rb = rope.Bind(ySep, kSep, vSep, step);
        Run(s =>
        {
            fused.Record(s, fb, rows, cols, nTokens, 0, 0, rows, 0, accumulate: false);
            plain.Record(s, pb, rows, cols, nTokens, 0, 0, rows, 0, accumulate: false);
            s.Barrier();
            rope.Record(s, rb, nTokens, nHeads, nKvHeads, headDim, rows, theta, pairs);
        });
        float[] yf = Read(yFused, nTokens * rows), ys = Read(ySep, nTokens * rows);
        float[] qf = Enumerable.Range(0, nTokens).SelectMany(t => yf[(t * rows)..(t * rows + qDim)]).ToArray();
        float[] qs = Enumerable.Range(0, nTokens).SelectMany(t => ys[(t * rows)..(t * rows + qDim)]).ToArray();
        Reference.AssertNmse(qf, qs, 1e-12, "roped q");
        float[] Cache(GpuBuffer b)
        {
            int n = ctx * kvDim;
            if (!f16Cache) return Read(b, n);
            var h = new Half[n];
            b.Download<Half>(h);
            return h.Select(v => (float)v).ToArray();
        }
        float[] kf = Cache(kFused), ks = Cache(kSep), vf = Cache(vFused), vs = Cache(vSep);
        Reference.AssertNmse(kf[(pos0 * kvDim)..((pos0 + nTokens) * kvDim)], ks[(pos0 * kvDim)..((pos0 + nTokens) * kvDim)], f16Cache ? 1e-7 : 1e-12, "roped k in the cache");
        Reference.AssertNmse(vf, vs, 1e-12, "v in the cache");
        Assert.That(kf[..(pos0 * kvDim)].All(v => v == 0) && kf[((pos0 + nTokens) * kvDim)..].All(v => v == 0), Is.True, "only the new tokens' rows written");
    }

    /// <summary>A token's wide split-k output has the same bits whether it ran in a prefill workgroup of 8 tokens or alone.</summary>
    [Test]
    public unsafe void MatmulWide_PrefillAndDecodeGiveATokenTheSameBits()
    {
        const int rows = 70, cols = 1288, nTokens = 11;
        var (gm, _) = UploadRandomF16("gate", rows, cols, 293);
        var (um, _) = UploadRandomF16("up", rows, cols, 294);
        using var _g = gm;
        using var _u = um;
        using GpuBuffer xb = Upload(Reference.Random(nTokens * cols, 295, 3f), "x");
        using GpuBuffer gb = Upload(Reference.Random(cols, 296), "norm");
        using var prefillOut = new GpuBuffer(Device, nTokens * rows * 4L, "y-prefill");
        using var decodeOut = new GpuBuffer(Device, nTokens * rows * 4L, "y-decode");
        using var prefill = new MatmulKernel(Device, GgmlType.F16, 8, layout: MatmulLayout.WideSplitK, glu: true, normEps: 1e-5f);
        using var decode = new MatmulKernel(Device, GgmlType.F16, 1, layout: MatmulLayout.WideSplitK, glu: true, normEps: 1e-5f);
        KernelBinding pb = prefill.Bind(gm.Chunks[0].Buffer, xb, prefillOut, gb, um.Chunks[0].Buffer);
        KernelBinding db = decode.Bind(gm.Chunks[0].Buffer, xb, decodeOut, gb, um.Chunks[0].Buffer);
        Run(s =>
        {
            prefill.Record(s, pb, rows, cols, nTokens, 0, 0, rows, 0, accumulate: false);
            for (int t = 0; t < nTokens; t++)
                decode.Record(s, db, rows, cols, 1, xOffset: t * cols, yOffset: t * rows, rows, 0, accumulate: false);
        });
        Assert.That(Read(decodeOut, nTokens * rows), Is.EqualTo(Read(prefillOut, nTokens * rows)));
    }

    /// <summary>A random F16 matrix on the device (row-major) and its values.</summary>
    private unsafe (GpuMatrix Matrix, float[] Values) UploadRandomF16(string name, int rows, int cols, int seed)
    {
        var (raw, values) = RandomWeights(GgmlType.F16, rows, cols, seed);
        fixed (byte* p = raw) return (GpuMatrix.Upload(Device, name, GgmlType.F16, rows, cols, p), values);
    }

    /// <summary>The separate ops a fused matmul stands for: n = rmsnorm(x) * g (when <paramref name="g"/> is given), then
    /// W n, or silu(W n) * (U n) when <paramref name="u"/> is given, for each token.</summary>
    private static float[] ExpectedFusedMatmul(float[] w, float[]? u, float[] x, float[]? g, float eps, int rows, int cols, int nTokens)
    {
        float[] xn = g != null ? Reference.RmsNorm(x, g, nTokens, cols, eps) : x;
        var expected = new float[nTokens * rows];
        for (int t = 0; t < nTokens; t++)
        {
            float[] xt = xn[(t * cols)..((t + 1) * cols)];
            float[] y = Reference.MatVec(w, xt, rows, cols);
            if (u != null) y = Reference.SwiGlu(y, Reference.MatVec(u, xt, rows, cols));
            y.CopyTo(expected, t * rows);
        }
        return expected;
    }

    [Test]
    public void MatmulRowsPerLane_RefusesColumnsItCannotTake()
    {
        Assert.That(MatmulKernel.RowsLayoutFits(Device, GgmlType.F16, 130), Is.False, "not whole texels");
        Assert.That(MatmulKernel.LayoutFor(Device, GgmlType.F16, 130), Is.EqualTo(MatmulLayout.SplitK));
        Assert.That(MatmulKernel.LayoutFor(Device, GgmlType.Q8_0, 48), Is.EqualTo(MatmulLayout.SplitK), "Q8_0 rows of 1.5 blocks");
        Assert.That(MatmulKernel.LayoutFor(Device, GgmlType.Q4_K, 768), Is.EqualTo(MatmulLayout.SplitK), "no rows-per-lane k-quant kernel");
    }

    [Test]
    public unsafe void Matvec_RowOffsetAndAccumulate()
    {
        const int rows = 45, cols = 64, total = 100, offset = 50;
        float[] w = Reference.Random(rows * cols, 12);
        float[] x = Reference.Random(cols, 13);
        float[] y0 = Reference.Random(total, 14);
        GpuMatrix matrix;
        fixed (float* p = w) matrix = GpuMatrix.Upload(Device, "w", GgmlType.F32, rows, cols, (byte*)p);
        using var _ = matrix;
        using GpuBuffer xb = Upload(x, "x");
        using GpuBuffer yb = Upload(y0, "y");
        using var k = new MatmulKernel(Device, GgmlType.F32, 1, layout: MatmulLayout.SplitK);
        KernelBinding b = k.Bind(matrix.Chunks[0].Buffer, xb, yb);
        Run(s => k.Record(s, b, rows, cols, 1, xOffset: 0, yOffset: 0, yStride: total, rowOffset: offset, accumulate: true));
        float[] got = Read(yb, total);
        float[] expected = (float[])y0.Clone();
        float[] wx = Reference.MatVec(w, x, rows, cols);
        for (int r = 0; r < rows; r++)
            expected[offset + r] += wx[r];
        Reference.AssertNmse(got, expected, ReductionTol, "matvec accumulate");
        Assert.That(got[..offset], Is.EqualTo(y0[..offset]), "rows before rowOffset untouched");
    }

    [Test]
    public unsafe void Matvec_MatrixOverMaxStorageBufferRange_IsSplit()
    {
        const int rows = 32013, cols = 1100; // 140.9 MB of F32 > 128 MiB
        long bytes = (long)rows * cols * 4;
        float[] w = Reference.RandomRows(rows, cols, 15);
        float[] x = Reference.Random(cols, 16);
        GpuMatrix matrix;
        fixed (float* p = w) matrix = GpuMatrix.Upload(Device, "w-large", GgmlType.F32, rows, cols, (byte*)p);
        using var _ = matrix;
        if ((ulong)bytes > Device.Info.MaxStorageBufferRange)
            Assert.That(matrix.Chunks, Has.Count.GreaterThan(1));
        using GpuBuffer xb = Upload(x, "x");
        using var yb = new GpuBuffer(Device, rows * 4L, "y");
        using var k = new MatmulKernel(Device, GgmlType.F32, 1, layout: MatmulLayout.SplitK);
        var bindings = matrix.Chunks.Select(c => k.Bind(c.Buffer, xb, yb)).ToArray();
        Run(s =>
        {
            for (int i = 0; i < bindings.Length; i++)
                k.Record(s, bindings[i], matrix.Chunks[i].RowCount, cols, 1, 0, 0, rows, matrix.Chunks[i].RowStart, false);
        });
        float[] expected = Reference.MatVec(w, x, rows, cols);
        Reference.AssertNmse(Read(yb, rows), expected, ReductionTol, $"matvec {rows}x{cols} in {matrix.Chunks.Count} chunks");
    }

    [Test]
    public void MatrixSplit_ChunksFitAndAlign()
    {
        IReadOnlyList<RowChunk> c = MatrixSplit.Rows(32013, 4400, 134217728, 256);
        Assert.That(c.Sum(x => x.RowCount), Is.EqualTo(32013));
        Assert.That(c.All(x => x.ByteSize <= 134217728 && x.ByteOffset % 256 == 0), Is.True);
        Assert.That(c, Has.Count.EqualTo(2));
        IReadOnlyList<RowChunk> odd = MatrixSplit.Rows(1000, 6, 100, 16);   // 6-byte rows, 16-byte alignment: 8 rows per step
        Assert.That(odd.All(x => x.ByteSize <= 100 && x.ByteOffset % 16 == 0), Is.True);
        Assert.That(odd.Sum(x => x.RowCount), Is.EqualTo(1000));
    }

    /// <summary>rmsnorm, both kernels: rows firstRow.. of x into rows 0.. of y (the last layer of a last-token-only
    /// prefill normalises one row of many).</summary>
    [TestCase(3, 1000, false, 0)]
    [TestCase(2, 4097, false, 0)]
    [TestCase(1, 7, false, 0)]
    [TestCase(2, 100, false, 3)]
    [TestCase(3, 1000, true, 0)]
    [TestCase(1, 768, true, 0)]
    [TestCase(5, 12, true, 0)]
    [TestCase(1, 768, true, 4)]
    public void RmsNorm_MatchesReference(int nTokens, int n, bool subgroup, int firstRow)
    {
        if (subgroup && !RmsNormKernel.UsesSubgroupKernel(Device, KernelSet.Cpu, n))
            Assert.Ignore($"{Device.Info.Name}: no one-subgroup workgroups of {Device.Info.SubgroupSize} lanes here");
        float[] x = Reference.Random((firstRow + nTokens) * n, 20, 3f);
        float[] w = Reference.Random(n, 21);
        using GpuBuffer xb = Upload(x, "x");
        using GpuBuffer wb = Upload(w, "w");
        using var yb = new GpuBuffer(Device, nTokens * n * 4L, "y");
        using var k = new RmsNormKernel(Device, subgroup);
        KernelBinding b = k.Bind(xb, wb, yb);
        Run(s => k.Record(s, b, nTokens, n, 1e-5f, firstRow));
        float[] expected = Reference.RmsNorm(x[(firstRow * n)..], w, nTokens, n, 1e-5f);
        Reference.AssertNmse(Read(yb, nTokens * n), expected, ReductionTol, $"rmsnorm, {k.WorkgroupSize} lanes, from row {firstRow}");
    }

    /// <summary>rope_kv_store: q heads rotated in place, k rotated into the cache, v copied into the cache, at the
    /// position in the step buffer; both RoPE layouts, both cache types, GQA.</summary>
    [TestCase(RopeLayout.Interleaved, false, 3, 4, 2, 64, 17)]
    [TestCase(RopeLayout.RotateHalf, false, 3, 4, 2, 64, 17)]
    [TestCase(RopeLayout.RotateHalf, true, 1, 3, 3, 6, 300)]
    [TestCase(RopeLayout.Interleaved, true, 2, 32, 8, 128, 1000)]
    public void RopeKvStore_MatchesReference(RopeLayout layout, bool f16Cache, int nTokens, int nHeads, int nKvHeads, int headDim, int pos0)
    {
        int qDim = nHeads * headDim, kvDim = nKvHeads * headDim, stride = qDim + 2 * kvDim, ctx = pos0 + nTokens + 2;
        float[] qkv = Reference.Random(nTokens * stride, 30);
        using GpuBuffer qkvb = Upload(qkv, "qkv");
        using GpuBuffer step = Upload(new uint[] { (uint)pos0 }, "step");
        long cacheBytes = (long)ctx * kvDim * (f16Cache ? 2 : 4);
        using var kc = new GpuBuffer(Device, cacheBytes, "k-cache");
        using var vc = new GpuBuffer(Device, cacheBytes, "v-cache");
        kc.Clear(); vc.Clear();
        using var k = new RopeKvStoreKernel(Device, f16Cache, headDim);
        KernelBinding b = k.Bind(qkvb, kc, vc, step);
        Run(s => k.Record(s, b, nTokens, nHeads, nKvHeads, headDim, stride, 10000f, layout));

        float[] Part(int offset, int width)
        {
            var r = new float[nTokens * width];
            for (int t = 0; t < nTokens; t++) Array.Copy(qkv, t * stride + offset, r, t * width, width);
            return r;
        }
        bool neox = layout == RopeLayout.RotateHalf;
        float[] qWant = Reference.Rope(Part(0, qDim), nTokens, nHeads, headDim, pos0, 10000f, neox);
        float[] kWant = Reference.Rope(Part(qDim, kvDim), nTokens, nKvHeads, headDim, pos0, 10000f, neox);
        float[] vWant = Part(qDim + kvDim, kvDim);
        float[] ReadCache(GpuBuffer c)
        {
            float[] all;
            if (f16Cache) { var h = new Half[ctx * kvDim]; c.Download<Half>(h); all = Reference.FromHalf(h); }
            else all = Read(c, ctx * kvDim);
            Assert.That(all[..(pos0 * kvDim)].All(v => v == 0) && all[((pos0 + nTokens) * kvDim)..].All(v => v == 0), Is.True, "cache rows outside pos0..pos0+n untouched");
            return all[(pos0 * kvDim)..((pos0 + nTokens) * kvDim)];
        }
        float[] got = Read(qkvb, qkv.Length);
        float[] qGot = new float[nTokens * qDim];
        for (int t = 0; t < nTokens; t++) Array.Copy(got, t * stride, qGot, t * qDim, qDim);
        // sin/cos of large angles in f32 are not exact: a looser bound than pure element-wise ops.
        Reference.AssertNmse(qGot, qWant, ReductionTol, $"rope q {layout}");
        double cacheTol = f16Cache ? 1e-6 : ReductionTol;
        Reference.AssertNmse(ReadCache(kc), kWant, cacheTol, $"rope k into the {(f16Cache ? "f16" : "f32")} cache, {layout}");
        Reference.AssertNmse(ReadCache(vc), vWant, f16Cache ? 1e-6 : ElementwiseTol, "v into the cache");
        for (int t = 0; t < nTokens; t++)
            Assert.That(got.AsSpan(t * stride + qDim, 2 * kvDim).ToArray(), Is.EqualTo(qkv.AsSpan(t * stride + qDim, 2 * kvDim).ToArray()), "k and v rows of qkv are left as they were");
    }

    [Test]
    public void SwiGlu_MatchesReference()
    {
        const int n = 3 * 1001;
        float[] g = Reference.Random(n, 40, 6f);
        float[] u = Reference.Random(n, 41);
        using GpuBuffer gb = Upload(g, "gate");
        using GpuBuffer ub = Upload(u, "up");
        using var k = new SwiGluKernel(Device);
        KernelBinding b = k.Bind(gb, ub, gb); // in place over gate
        Run(s => k.Record(s, b, 3, 1001));
        Reference.AssertNmse(Read(gb, n), Reference.SwiGlu(g, u), ElementwiseTol, "swiglu");
    }

    [TestCase(4, 1000)]
    [TestCase(3, 7)]
    [TestCase(2, 32013)]
    public void Softmax_MatchesReference(int nRows, int n)
    {
        float[] x = Reference.Random(nRows * n, 50, 20f);
        for (int i = 0; i < n; i++)
            x[i] += 500f; // large logits: must not overflow
        using GpuBuffer xb = Upload(x, "x");
        using var k = new SoftmaxKernel(Device);
        KernelBinding b = k.Bind(xb);
        Run(s => k.Record(s, b, nRows, n));
        Reference.AssertNmse(Read(xb, x.Length), Reference.Softmax(x, nRows, n), ReductionTol, "softmax");
    }

    [Test]
    public void Add_MatchesReference()
    {
        const int n = 100003;
        float[] y = Reference.Random(n, 60);
        float[] x = Reference.Random(n, 61);
        using GpuBuffer yb = Upload(y, "y");
        using GpuBuffer xb = Upload(x, "x");
        using var k = new AddKernel(Device);
        KernelBinding b = k.Bind(yb, xb);
        Run(s => k.Record(s, b, n));
        Reference.AssertNmse(Read(yb, n), y.Zip(x, (a, c) => a + c).ToArray(), ElementwiseTol, "add");
    }

    [TestCase(MatrixType.F32)]
    [TestCase(MatrixType.F16)]
    public void Embedding_MatchesReference(MatrixType type)
    {
        const int vocab = 1000, dim = 77;
        uint[] ids = [0, 999, 5, 5, 123, 42, 777];
        float[] table = Reference.Random(vocab * dim, 70);
        float[] tableRef = type == MatrixType.F16 ? Reference.FromHalf(Reference.ToHalf(table)) : table;
        using GpuBuffer tb = type == MatrixType.F16 ? Upload(Reference.ToHalf(table), "table") : Upload(table, "table");
        using GpuBuffer ib = Upload(ids, "ids");
        using var ob = new GpuBuffer(Device, ids.Length * dim * 4L, "out");
        using var k = new EmbeddingKernel(Device, type);
        EmbeddingBinding b = k.Bind(ib, tb, 0, vocab, dim, ob);
        Run(s => k.Record(s, b, ids.Length));
        float[] expected = ids.SelectMany(id => tableRef.AsSpan((int)id * dim, dim).ToArray()).ToArray();
        Reference.AssertNmse(Read(ob, expected.Length), expected, ElementwiseTol, $"embedding {type}");
    }

    // llvmpipe ends an invocation's loops after 65535 iterations in all: the tiles kernel is right up to the keys it
    // reports there (MaxKeys), all of them attended by one query.
    [TestCase(MatrixType.F32, 64)]
    [TestCase(MatrixType.F16, 128)]
    [TestCase(MatrixType.F32, 30)]
    public void TilesAttentionIsRightUpToItsMaxKeys(MatrixType cacheType, int headDim)
    {
        using var k = new AttentionKernel(Device, cacheType, AttentionLayout.Tiles, headDim);
        if (Device.Info.Kind != DeviceKind.Cpu)
        {
            Assert.That(k.MaxKeys, Is.EqualTo(int.MaxValue), "no loop limit on a GPU");
            return;
        }
        Assert.That(k.MaxKeys, Is.EqualTo(AttentionKernel.TilesMaxKeysOnLlvmpipe(headDim)));
        Assert.That(k.MaxKeys, Is.GreaterThan(4096), "every TIPO context fits");
        Attention_MatchesReference(cacheType, 1, 2, 1, headDim, k.MaxKeys - 1, AttentionLayout.Tiles);
    }

    // The one-subgroup kernel walks a key per lane per iteration: on llvmpipe it is right up to (65535 - 16) iterations'
    // worth of keys, its MaxKeys (heads of 8, so that half a million keys of cache stay small).
    [Test]
    public void OneSubgroupAttentionIsRightUpToItsMaxKeys()
    {
        using var k = new AttentionKernel(Device, MatrixType.F32, AttentionLayout.KeysPerLane, 8);
        if (Device.Info.Kind != DeviceKind.Cpu || k.Layout != AttentionLayout.KeysPerLane)
        {
            Assert.That(k.MaxKeys, Is.EqualTo(Device.Info.Kind != DeviceKind.Cpu ? int.MaxValue : AttentionKernel.TilesMaxKeysOnLlvmpipe(8)));
            return;
        }
        Assert.That(k.MaxKeys, Is.EqualTo((AttentionKernel.LlvmpipeLoopIterations - 16) * (int)Device.Info.SubgroupSize));
        Attention_MatchesReference(MatrixType.F32, 1, 2, 1, 8, k.MaxKeys - 1, AttentionLayout.KeysPerLane);
    }

    [TestCase(MatrixType.F32, 3, 4, 2, 64, 70, AttentionLayout.Tiles)]    // prefill, GQA, more keys than one tile
    [TestCase(MatrixType.F32, 1, 2, 2, 128, 5, AttentionLayout.Tiles)]    // decode, MHA
    [TestCase(MatrixType.F32, 5, 6, 1, 30, 0, AttentionLayout.Tiles)]     // prefill from position 0, MQA, odd-ish head size
    [TestCase(MatrixType.F16, 2, 8, 2, 64, 130, AttentionLayout.Tiles)]   // f16 cache
    [TestCase(MatrixType.F32, 3, 4, 2, 64, 70, AttentionLayout.KeysPerLane)]     // the same through the one-subgroup kernel
    [TestCase(MatrixType.F32, 1, 2, 2, 128, 5, AttentionLayout.KeysPerLane)]
    [TestCase(MatrixType.F32, 5, 6, 1, 36, 0, AttentionLayout.KeysPerLane)]      // head size not a multiple of the subgroup's texels
    [TestCase(MatrixType.F32, 5, 6, 1, 30, 0, AttentionLayout.KeysPerLane)]      // not whole texels: the portable kernel instead
    [TestCase(MatrixType.F16, 2, 8, 2, 64, 130, AttentionLayout.KeysPerLane)]
    [TestCase(MatrixType.F16, 1, 12, 12, 256, 300, AttentionLayout.KeysPerLane)] // widest head
    [TestCase(MatrixType.F16, 17, 4, 2, 64, 0, AttentionLayout.KeysPerLane)]     // prefill query tiles (8 on CPU devices, 4 on GPUs): full ones, then one token
    [TestCase(MatrixType.F16, 17, 4, 2, 64, 30, AttentionLayout.KeysPerLane, 1u)] // one key per softmax update (GPUs), 2 (CPU devices), 4
    [TestCase(MatrixType.F16, 17, 4, 2, 64, 30, AttentionLayout.KeysPerLane, 2u)]
    [TestCase(MatrixType.F32, 3, 4, 2, 64, 70, AttentionLayout.KeysPerLane, 4u)]
    [TestCase(MatrixType.F16, 1, 20, 20, 64, 576, AttentionLayout.KeyGroups)]    // tipo-500m's heads, decode deep in the cache
    [TestCase(MatrixType.F16, 9, 4, 2, 64, 0, AttentionLayout.KeyGroups)]        // prefill from position 0: fewer keys than groups
    [TestCase(MatrixType.F16, 3, 4, 2, 64, 1000, AttentionLayout.KeyGroups)]     // many rounds of keys, the last one partial
    [TestCase(MatrixType.F32, 3, 4, 2, 32, 70, AttentionLayout.KeyGroups)]       // f32 cache (8 texels of a 32-wide head)
    [TestCase(MatrixType.F16, 2, 6, 3, 32, 40, AttentionLayout.KeyGroups)]       // 4 lanes per key
    [TestCase(MatrixType.F16, 2, 4, 2, 48, 40, AttentionLayout.KeyGroups)]       // 6 texels, not a power of two: the portable kernel instead
    public void Attention_MatchesReference(MatrixType cacheType, int nTokens, int nHeads, int nKvHeads, int headDim, int pos0, AttentionLayout layout,
        uint keysPerUpdate = 0)
    {
        int ctx = pos0 + nTokens + 3;
        int kvDim = nKvHeads * headDim;
        // q heads at the start of fused QKV rows (2 kv-heads' worth of k and v after them).
        int qStride = nHeads * headDim + 2 * kvDim;
        float[] qRows = Reference.Random(nTokens * qStride, 80, 2f);
        float[] q = new float[nTokens * nHeads * headDim];
        for (int t = 0; t < nTokens; t++) Array.Copy(qRows, t * qStride, q, t * nHeads * headDim, nHeads * headDim);
        float[] kc = Reference.Random(ctx * kvDim, 81, 2f);
        float[] vc = Reference.Random(ctx * kvDim, 82);
        if (cacheType == MatrixType.F16)
        {
            kc = Reference.FromHalf(Reference.ToHalf(kc));
            vc = Reference.FromHalf(Reference.ToHalf(vc));
        }
        using GpuBuffer qb = Upload(qRows, "q");
        using GpuBuffer step = Upload(new uint[] { (uint)pos0 }, "step");
        using GpuBuffer kb = cacheType == MatrixType.F16 ? Upload(Reference.ToHalf(kc), "k") : Upload(kc, "k");
        using GpuBuffer vb = cacheType == MatrixType.F16 ? Upload(Reference.ToHalf(vc), "v") : Upload(vc, "v");
        using var ob = new GpuBuffer(Device, q.Length * 4L, "out");
        using var k = new AttentionKernel(Device, cacheType, layout, headDim, keysPerUpdate);
        bool fits = layout switch
        {
            AttentionLayout.KeyGroups => AttentionKernel.KeyGroupsFit(Device, cacheType, headDim),
            AttentionLayout.KeysPerLane => Device.Info.SubgroupArithmetic && headDim % (cacheType == MatrixType.F16 ? 8 : 4) == 0,
            _ => true,
        };
        Assert.That(k.Layout, Is.EqualTo(fits ? layout : AttentionLayout.Tiles), "the layout asked for where it fits, else the tiles kernel");
        KernelBinding b = k.Bind(qb, kb, vb, ob, step);
        Run(s => k.Record(s, b, nTokens, nHeads, nKvHeads, headDim, qStride));
        float[] expected = Reference.Attention(q, kc, vc, nTokens, nHeads, nKvHeads, headDim, pos0);
        Reference.AssertNmse(Read(ob, q.Length), expected, ReductionTol, $"attention {cacheType}, {k.Layout}, {k.WorkgroupSize} lanes, {k.KeysPerUpdate} keys a step");
        if (keysPerUpdate != 0 && k.Layout == AttentionLayout.KeysPerLane) Assert.That(k.KeysPerUpdate, Is.EqualTo(keysPerUpdate));
    }

    [Test]
    public void AttentionLayoutFor_KernelSetAndHeadShape()
    {
        Assert.That(AttentionKernel.LayoutFor(Device, KernelSet.Cpu, MatrixType.F16, 64), Is.EqualTo(AttentionLayout.KeysPerLane));
        bool shuffles = Device.Info.SubgroupShuffle && Device.Info.SmallestSubgroupSize >= 8;
        Assert.That(AttentionKernel.LayoutFor(Device, KernelSet.Gpu, MatrixType.F16, 64),
            Is.EqualTo(shuffles ? AttentionLayout.KeyGroups : AttentionLayout.Tiles), "the GPU kernel set: key groups where a head's texels fit a subgroup");
        if (Device.Info.Kind == DeviceKind.Cpu)
            Assert.That(AttentionKernel.LayoutFor(Device, KernelSet.Gpu, MatrixType.F16, 48), Is.EqualTo(AttentionLayout.Tiles), "6 texels: not a power of two");
    }

    /// <summary>The one-subgroup kernel's knobs per device: on CPU devices 2 keys per softmax update and up to 8 query
    /// tokens (64 cache texels of state), on GPUs 1 key and up to 4 (32 texels).</summary>
    [Test]
    public void AttentionKnobsPerDevice()
    {
        bool cpu = Device.Info.Kind == DeviceKind.Cpu;
        Assert.That(AttentionKernel.KeysPerUpdateOn(Device), Is.EqualTo(cpu ? 2u : 1u));
        Assert.That(AttentionKernel.PrefillQueriesFor(Device, 8), Is.EqualTo(cpu ? 8u : 4u), "a 64-wide f16 head (tipo-200m, tipo-500m)");
        Assert.That(AttentionKernel.PrefillQueriesFor(Device, 2), Is.EqualTo(cpu ? 8u : 4u), "an 8-wide f32 head (stories260K)");
        Assert.That(AttentionKernel.PrefillQueriesFor(Device, 32), Is.EqualTo(cpu ? 2u : 1u), "a 256-wide f16 head");
        Assert.That(AttentionKernel.PrefillQueriesFor(Device, 128), Is.EqualTo(1u));
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionKernel.PrefillQueriesFor(Device, 0));
    }

    /// <summary>A token's attention output has the same bits whether it ran in a prefill query tile or alone (decode):
    /// the KV-cache prefix reuse depends on it.</summary>
    [TestCase(MatrixType.F16, 64, AttentionLayout.KeysPerLane)]
    [TestCase(MatrixType.F32, 32, AttentionLayout.KeysPerLane)]
    [TestCase(MatrixType.F16, 64, AttentionLayout.KeysPerLane, 1u)]   // GPUs' one key per softmax update
    [TestCase(MatrixType.F16, 64, AttentionLayout.KeyGroups)]
    [TestCase(MatrixType.F32, 32, AttentionLayout.KeyGroups)]
    public void Attention_PrefillAndDecodeGiveATokenTheSameBits(MatrixType cacheType, int headDim, AttentionLayout layout, uint keysPerUpdate = 0)
    {
        const int nTokens = 19, nHeads = 4, nKvHeads = 2, pos0 = 21;   // 40 keys: several blocks of keys (8 lanes x 2), three query tiles of 8
        int ctx = pos0 + nTokens, kvDim = nKvHeads * headDim, qStride = nHeads * headDim + 2 * kvDim;
        float[] qRows = Reference.Random(nTokens * qStride, 83, 2f);
        float[] kc = Reference.Random(ctx * kvDim, 84, 2f), vc = Reference.Random(ctx * kvDim, 85);
        using GpuBuffer qb = Upload(qRows, "q");
        using GpuBuffer kb = cacheType == MatrixType.F16 ? Upload(Reference.ToHalf(kc), "k") : Upload(kc, "k");
        using GpuBuffer vb = cacheType == MatrixType.F16 ? Upload(Reference.ToHalf(vc), "v") : Upload(vc, "v");
        using var k = new AttentionKernel(Device, cacheType, layout, headDim, keysPerUpdate);
        if (k.Layout != layout)
            Assert.Ignore($"{Device.Info.Name} cannot run the {layout} attention kernel (subgroup operations)");
        int width = nHeads * headDim;
        using var prefillOut = new GpuBuffer(Device, nTokens * width * 4L, "prefill out");
        using GpuBuffer prefillStep = Upload(new uint[] { pos0 }, "step");
        KernelBinding pb = k.Bind(qb, kb, vb, prefillOut, prefillStep);
        Run(s => k.Record(s, pb, nTokens, nHeads, nKvHeads, headDim, qStride));
        float[] prefill = Read(prefillOut, nTokens * width);
        for (int t = 0; t < nTokens; t++)
        {
            using var decodeOut = new GpuBuffer(Device, width * 4L, "decode out");
            using GpuBuffer decodeStep = Upload(new uint[] { (uint)(pos0 + t) }, "step");
            KernelBinding db = k.Bind(new BufferRange(qb, t * qStride * 4L, qStride * 4L), kb, vb, decodeOut, decodeStep);
            Run(s => k.Record(s, db, 1, nHeads, nKvHeads, headDim, qStride));
            Assert.That(Read(decodeOut, width), Is.EqualTo(prefill.AsSpan(t * width, width).ToArray()), $"token {t} of {nTokens} (query tiles of {k.PrefillQueries})");
        }
    }
}
