using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Models;
using Tipo.Tests.Vulkan;
using Tipo.Vulkan;

namespace Tipo.Tests.Quantization;

/// <summary>
/// The quantised matmul kernels (matmul_&lt;type&gt;.comp, reading the blocks directly) against the C# reference
/// dequantiser followed by a double-precision matmul: decode (1 token) and prefill (13 tokens), row counts
/// that are not a multiple of the workgroup's rows, accumulate, and matrices split over several bindings.
/// </summary>
public class QuantMatmulTests : GpuTest
{
    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var type in QuantBlockBuilder.AllTypes)
        {
            int cols = GgmlTypeInfo.BlockSize(type) == 32 ? 96 : 512;
            yield return new TestCaseData(type, 37, cols, 1);
            yield return new TestCaseData(type, 37, cols, 13);
        }
        yield return new TestCaseData(GgmlType.Q4_K, 301, 1280, 9);
        yield return new TestCaseData(GgmlType.Q6_K, 301, 1280, 9);
    }

    [TestCaseSource(nameof(Cases))]
    public unsafe void MatchesDequantisedReference(GgmlType type, int rows, int cols, int nTokens)
    {
        foreach (bool accumulate in new[] { false, true })
        foreach (long chunkLimit in new[] { long.MaxValue, GpuMatrix.GpuRowBytes(type, cols) * 8 })
        {
            var (w, _) = QuantBlockBuilder.Build(type, rows * cols / GgmlTypeInfo.BlockSize(type), new Random(rows * 7 + cols));
            float[] wf = new float[rows * cols];
            Dequantize.ToFloat32(type, w, wf);
            var rng = new Random(5);
            float[] x = Enumerable.Range(0, nTokens * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] yInit = Enumerable.Range(0, nTokens * rows).Select(_ => (float)rng.NextDouble()).ToArray();
            float[] expected = new float[nTokens * rows];
            for (int t = 0; t < nTokens; t++)
                for (int r = 0; r < rows; r++)
                {
                    double s = 0;
                    for (int k = 0; k < cols; k++) s += (double)wf[r * cols + k] * x[t * cols + k];
                    expected[t * rows + r] = (float)s + (accumulate ? yInit[t * rows + r] : 0f);
                }

            GpuMatrix matrix;
            fixed (byte* p = w) matrix = GpuMatrix.Upload(Device, "w", type, rows, cols, p, chunkLimit);
            using var _ = matrix;
            Assert.That(matrix.Type, Is.EqualTo(type), "stays quantised on the GPU");
            Assert.That(matrix.SizeBytes, Is.LessThan(w.Length + 4L * rows * cols / GgmlTypeInfo.BlockSize(type) + 4 * matrix.Chunks.Count));
            using var xBuf = new GpuBuffer(Device, 4L * x.Length, "x");
            using var yBuf = new GpuBuffer(Device, 4L * expected.Length, "y");
            xBuf.Upload<float>(x);
            yBuf.Upload<float>(yInit);
            using var kernel = new MatmulKernel(Device, matrix.Type, nTokens == 1 ? 1u : 8u);
            using var seq = new CommandSequence(Device);
            seq.Begin();
            foreach (var chunk in matrix.Chunks)
                kernel.Record(seq, kernel.Bind(chunk.Buffer, xBuf, yBuf), chunk.RowCount, cols, nTokens,
                    xOffset: 0, yOffset: 0, yStride: rows, rowOffset: chunk.RowStart, accumulate);
            seq.End();
            seq.Submit();
            float[] actual = new float[expected.Length];
            yBuf.Download<float>(actual);
            double nmse = QuantTestUtil.Nmse(actual, expected);
            TestContext.Out.WriteLine($"{type} {rows}x{cols} tokens {nTokens} accumulate {accumulate} chunks {matrix.Chunks.Count}: NMSE {nmse:G3}");
            Assert.That(nmse, Is.LessThanOrEqualTo(1e-7), $"{type} {rows}x{cols} tokens {nTokens} accumulate {accumulate} chunks {matrix.Chunks.Count}");
            if (chunkLimit != long.MaxValue) Assert.That(matrix.Chunks, Has.Count.GreaterThan(1));
        }
    }

    [Test]
    public void TypesWithoutKernelFailClearly()
    {
        var e = Assert.Throws<Tipo.Errors.UnsupportedFeatureException>(() => GpuMatrix.GpuTypeFor(GgmlType.IQ2_XXS, "blk.3.ffn_up.weight"));
        Assert.That(e!.Message, Does.Contain("blk.3.ffn_up.weight").And.Contain("IQ2_XXS"));
    }
}
