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
    public void MatchesDequantisedReference(GgmlType type, int rows, int cols, int nTokens)
    {
        foreach (bool accumulate in new[] { false, true })
        foreach (long chunkLimit in new[] { long.MaxValue, GpuMatrix.GpuRowBytes(type, cols) * 8 })
        {
            var (w, _) = QuantBlockBuilder.Build(type, rows * cols / GgmlTypeInfo.BlockSize(type), new Random(rows * 7 + cols));
            var rng = new Random(5);
            float[] x = Enumerable.Range(0, nTokens * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] yInit = Enumerable.Range(0, nTokens * rows).Select(_ => (float)rng.NextDouble()).ToArray();
            float[] expected = Kernels.MatmulHarness.Expected(type, w, rows, cols, x, nTokens, accumulate ? yInit : null);
            var result = Kernels.MatmulHarness.Run(Device, type, w, rows, cols, x, yInit, nTokens, accumulate, chunkLimit);
            Assert.That(result.GpuType, Is.EqualTo(type), "stays quantised on the GPU");
            Assert.That(result.GpuBytes, Is.LessThan(w.Length + 4L * rows * cols / GgmlTypeInfo.BlockSize(type) + 4 * result.Chunks));
            double nmse = QuantTestUtil.Nmse(result.Y, expected);
            TestContext.Out.WriteLine($"{type} {rows}x{cols} tokens {nTokens} accumulate {accumulate} chunks {result.Chunks}: NMSE {nmse:G3}");
            Assert.That(nmse, Is.LessThanOrEqualTo(1e-7), $"{type} {rows}x{cols} tokens {nTokens} accumulate {accumulate} chunks {result.Chunks}");
            if (chunkLimit != long.MaxValue) Assert.That(result.Chunks, Is.GreaterThan(1));
        }
    }

    /// <summary>
    /// quantsAsF16 (the CPU kernel family): every quantised type but Q8_0 is stored as F16, each weight the dequantiser's
    /// value rounded to half, over several chunks; Q8_0 stays quantised (its rows kernel reads it).
    /// </summary>
    [TestCaseSource(typeof(QuantBlockBuilder), nameof(QuantBlockBuilder.AllTypes))]
    public void QuantsAsF16StoresTheDequantisedWeightsAsHalves(GgmlType type)
    {
        const int rows = 21;
        int cols = GgmlTypeInfo.BlockSize(type) == 32 ? 96 : 512;
        var (w, _) = QuantBlockBuilder.Build(type, rows * cols / GgmlTypeInfo.BlockSize(type), new Random(11));
        AssertUploadedAsHalves(type, w, rows, cols, QuantsAsF16.AllButQ8_0);
        Assert.That(GpuMatrix.GpuTypeFor(GgmlType.Q8_0, "q8", quantsAsF16: QuantsAsF16.AllButQ8_0), Is.EqualTo(GgmlType.Q8_0));
    }

    /// <summary>QuantsAsF16.All (drivers whose Q8_0 kernel is slower than F16's): Q8_0 is stored as F16 too, each weight
    /// d * q rounded to half, over several chunks.</summary>
    [Test]
    public void QuantsAsF16AllStoresQ8_0AsHalves()
    {
        const int rows = 21, cols = 96;
        var (w, _) = QuantBlockBuilder.Build(GgmlType.Q8_0, rows * cols / 32, new Random(5));
        AssertUploadedAsHalves(GgmlType.Q8_0, w, rows, cols, QuantsAsF16.All);
    }

    /// <summary>Uploads <paramref name="w"/> (<paramref name="rows"/> rows of <paramref name="type"/>) in chunks of 8 rows
    /// with <paramref name="quantsAsF16"/> and checks it is stored as F16, each weight the dequantiser's value rounded to half.</summary>
    private unsafe void AssertUploadedAsHalves(GgmlType type, byte[] w, int rows, int cols, QuantsAsF16 quantsAsF16)
    {
        var expected = new float[rows * cols];
        Dequantize.ToFloat32(type, w, expected);
        GpuMatrix m;
        fixed (byte* p = w) m = GpuMatrix.Upload(Device, "w", type, rows, cols, p, maxChunkBytes: 8L * 2 * cols, quantsAsF16: quantsAsF16);
        using (m)
        {
            Assert.That(m.Type, Is.EqualTo(GgmlType.F16));
            Assert.That(m.Chunks, Has.Count.EqualTo(3), "8 rows per chunk");
            foreach (var chunk in m.Chunks)
            {
                var halves = new Half[chunk.RowCount * cols];
                chunk.Buffer.Download<Half>(halves);
                for (int i = 0; i < halves.Length; i++)
                    Assert.That(halves[i], Is.EqualTo((Half)expected[chunk.RowStart * cols + i]), $"{type} row {chunk.RowStart + i / cols}, column {i % cols}");
            }
        }
    }

    [Test]
    public void TypesWithoutKernelFailClearly()
    {
        var e = Assert.Throws<Tipo.Errors.UnsupportedFeatureException>(() => GpuMatrix.GpuTypeFor(GgmlType.IQ2_XXS, "blk.3.ffn_up.weight"));
        Assert.That(e!.Message, Does.Contain("blk.3.ffn_up.weight").And.Contain("IQ2_XXS"));
    }
}
