using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Tests.Kernels;

/// <summary>Runs one weight matrix (GGUF bytes) through the matmul kernels and computes the C# reference.</summary>
internal static class MatmulHarness
{
    /// <summary>What one GPU run produced: Y, and how the matrix was stored.</summary>
    public sealed record Result(float[] Y, GgmlType GpuType, long GpuBytes, int Chunks);

    /// <summary>Y = W X (+ yInit) with W dequantised by the reference dequantisers, summed in double.</summary>
    public static float[] Expected(GgmlType type, byte[] w, int rows, int cols, float[] x, int nTokens, float[]? yInit)
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

    /// <summary>Uploads W (split into chunks of at most <paramref name="chunkLimit"/> bytes) and runs Y (+)= W X on the GPU.</summary>
    public static unsafe Result Run(VulkanDevice device, GgmlType type, byte[] w, int rows, int cols, float[] x, float[] yInit,
        int nTokens, bool accumulate, long chunkLimit = long.MaxValue, MatmulLayout? layout = null, int tileRows = 0)
    {
        GpuMatrix matrix;
        fixed (byte* p = w) matrix = GpuMatrix.Upload(device, "w", type, rows, cols, p, chunkLimit, tileRows);
        using var _ = matrix;
        using var xBuf = new GpuBuffer(device, 4L * x.Length, "x");
        using var yBuf = new GpuBuffer(device, 4L * yInit.Length, "y");
        xBuf.Upload<float>(x);
        yBuf.Upload<float>(yInit);
        using var kernel = new MatmulKernel(device, matrix.Type, nTokens == 1 ? 1u : 8u, layout: layout ?? MatmulKernel.LayoutFor(device, matrix.Type, cols), tileRows: tileRows);
        using var seq = new CommandSequence(device);
        seq.Begin();
        foreach (var chunk in matrix.Chunks)
            kernel.Record(seq, kernel.Bind(chunk.Buffer, xBuf, yBuf), chunk.RowCount, cols, nTokens,
                xOffset: 0, yOffset: 0, yStride: rows, rowOffset: chunk.RowStart, accumulate);
        seq.End();
        seq.Submit();
        float[] actual = new float[yInit.Length];
        yBuf.Download<float>(actual);
        return new Result(actual, matrix.Type, matrix.SizeBytes, matrix.Chunks.Count);
    }
}
