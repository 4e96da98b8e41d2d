using System.Runtime.InteropServices;
using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Models;
using Tipo.Tests.Vulkan;
using Tipo.Vulkan;

namespace Tipo.Tests.Kernels;

/// <summary>
/// The weight-times-activations kernels (matmul_f32/f16/q8_0) against a C# reference that dequantises with
/// the reference dequantisers and sums in double: decode (1 token) and prefill tile shapes, odd sizes,
/// accumulate (fused residual), row offsets and matrices split over several bindings.
/// </summary>
public class MatmulKernelTests : GpuTest
{
    private static byte[] RandomWeights(GgmlType type, int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        switch (type)
        {
            case GgmlType.F32:
                return MemoryMarshal.AsBytes(Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray().AsSpan()).ToArray();
            case GgmlType.F16:
                return MemoryMarshal.AsBytes(Enumerable.Range(0, rows * cols).Select(_ => (Half)(rng.NextDouble() - 0.5)).ToArray().AsSpan()).ToArray();
            case GgmlType.Q8_0:
            {
                int blocks = rows * cols / 32;
                byte[] bytes = new byte[blocks * 34];
                for (int b = 0; b < blocks; b++)
                {
                    MemoryMarshal.Write(bytes.AsSpan(b * 34), (Half)(rng.NextDouble() * 0.02 + 0.001));
                    for (int j = 0; j < 32; j++) bytes[b * 34 + 2 + j] = (byte)(sbyte)rng.Next(-127, 128);
                }
                return bytes;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    private static float[] Reference(GgmlType type, byte[] w, int rows, int cols, float[] x, int nTokens, float[]? yInit)
    {
        float[] wf = new float[rows * cols];
        Dequantize.ToFloat32(type, w, wf);
        float[] y = new float[nTokens * rows];
        for (int t = 0; t < nTokens; t++)
            for (int r = 0; r < rows; r++)
            {
                double s = 0;
                for (int k = 0; k < cols; k++) s += (double)wf[r * cols + k] * x[t * cols + k];
                y[t * rows + r] = (float)s + (yInit?[t * rows + r] ?? 0f);
            }
        return y;
    }

    [TestCase(GgmlType.F32, 37, 172, 1)]
    [TestCase(GgmlType.F32, 37, 172, 13)]
    [TestCase(GgmlType.F16, 45, 130, 1)]
    [TestCase(GgmlType.F16, 45, 130, 13)]
    [TestCase(GgmlType.F16, 301, 1280, 9)]
    [TestCase(GgmlType.Q8_0, 33, 96, 1)]
    [TestCase(GgmlType.Q8_0, 33, 96, 13)]
    public unsafe void MatchesReference(GgmlType type, int rows, int cols, int nTokens)
    {
        foreach (bool accumulate in new[] { false, true })
        foreach (long chunkLimit in new[] { long.MaxValue, GpuMatrix.GpuRowBytes(type, cols) * 8 })
        {
            byte[] w = RandomWeights(type, rows, cols, rows * 7 + cols);
            var rng = new Random(5);
            float[] x = Enumerable.Range(0, nTokens * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] yInit = Enumerable.Range(0, nTokens * rows).Select(_ => (float)rng.NextDouble()).ToArray();
            float[] expected = Reference(type, w, rows, cols, x, nTokens, accumulate ? yInit : null);

            GpuMatrix matrix;
            fixed (byte* p = w) matrix = GpuMatrix.Upload(Device, "w", type, rows, cols, p, chunkLimit);
            using var _ = matrix;
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
            double nmse = Tipo.Tests.Inference.Compare.Nmse(actual, expected);
            Assert.That(nmse, Is.LessThanOrEqualTo(1e-10), $"{type} {rows}x{cols} tokens {nTokens} accumulate {accumulate} chunks {matrix.Chunks.Count}");
            if (chunkLimit != long.MaxValue) Assert.That(matrix.Chunks, Has.Count.GreaterThan(1));
        }
    }
}

/// <summary>The GPU argmax of greedy decoding: largest value, lowest index on ties, any length.</summary>
public class ArgmaxKernelTests : GpuTest
{
    [TestCase(1, 0)]
    [TestCase(517, 0)]
    [TestCase(32013, 0)]
    [TestCase(100, 3)]
    public void PicksTheLargestLowestIndexOnTies(int n, int rowOffsetRows)
    {
        var rng = new Random(n);
        float[] logits = Enumerable.Range(0, n * (rowOffsetRows + 1)).Select(_ => (float)rng.NextDouble()).ToArray();
        int offset = rowOffsetRows * n;
        int best = n * 2 / 3;
        logits[offset + best] = 5f;
        logits[offset + n - 1] = 5f;   // a tie after the first maximum
        using var input = new GpuBuffer(Device, 4L * logits.Length, "logits");
        using var output = new GpuBuffer(Device, 8, "argmax");
        input.Upload<float>(logits);
        using var kernel = new ArgmaxKernel(Device);
        var binding = kernel.Bind(input, output);
        using var seq = new CommandSequence(Device);
        seq.Begin();
        kernel.Record(seq, binding, n, offset);
        seq.End();
        seq.Submit();
        uint[] result = new uint[2];
        output.Download<uint>(result);
        Assert.That(result[0], Is.EqualTo(n == 1 ? 0u : (uint)best));
    }
}
