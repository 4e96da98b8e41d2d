namespace Tipo.Tests.Kernels;

/// <summary>Plain C# reference implementations and comparison helpers for the kernel tests.</summary>
internal static class Reference
{
    /// <summary>Normalized mean squared error sum((a-b)^2) / sum(b^2) (b = reference).</summary>
    public static double Nmse(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), "length");
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], b = expected[i];
            if (double.IsNaN(a) || double.IsInfinity(a))
                return double.PositiveInfinity;
            num += (a - b) * (a - b);
            den += b * b;
        }
        return den == 0 ? num : num / den;
    }

    public static void AssertNmse(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        double nmse = Nmse(actual, expected);
        TestContext.Out.WriteLine($"{what}: NMSE {nmse:E3}");
        Assert.That(nmse, Is.LessThanOrEqualTo(tolerance), $"{what}: NMSE {nmse:E3} > {tolerance:E1}");
    }

    public static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++)
            a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>A large [rows, cols] matrix of random values, built quickly: every row is a window of a 1M-value random
    /// pool at a pseudo-random start.</summary>
    public static float[] RandomRows(int rows, int cols, int seed)
    {
        float[] pool = Random((1 << 20) + cols, seed);
        var a = new float[(long)rows * cols];
        var rng = new Random(seed + 1);
        for (int r = 0; r < rows; r++)
            Array.Copy(pool, rng.Next(1 << 20), a, (long)r * cols, cols);
        return a;
    }

    public static Half[] ToHalf(float[] a) => a.Select(v => (Half)v).ToArray();
    public static float[] FromHalf(Half[] a) => a.Select(v => (float)v).ToArray();

    public static float[] MatVec(float[] w, float[] x, int rows, int cols)
    {
        var y = new float[rows];
        Parallel.For(0, rows, r =>
        {
            double s = 0;
            int o = r * cols;
            for (int c = 0; c < cols; c++)
                s += (double)w[o + c] * x[c];
            y[r] = (float)s;
        });
        return y;
    }

    public static float[] RmsNorm(float[] x, float[] w, int nTokens, int n, float eps)
    {
        var y = new float[x.Length];
        for (int t = 0; t < nTokens; t++)
        {
            double ss = 0;
            for (int i = 0; i < n; i++)
                ss += (double)x[t * n + i] * x[t * n + i];
            double scale = 1.0 / Math.Sqrt(ss / n + eps);
            for (int i = 0; i < n; i++)
                y[t * n + i] = (float)(x[t * n + i] * scale * w[i]);
        }
        return y;
    }

    /// <summary>RoPE in place on [nTokens, nHeads, headDim]; neox = rotate-half (HF) pairs, else interleaved (GGUF).
    /// The angle is formed in float like the shader (pos * base^(-2i/d)); sin/cos in double.</summary>
    public static float[] Rope(float[] x, int nTokens, int nHeads, int headDim, int pos0, float freqBase, bool neox)
    {
        var y = (float[])x.Clone();
        int half = headDim / 2;
        for (int t = 0; t < nTokens; t++)
            for (int h = 0; h < nHeads; h++)
                for (int i = 0; i < half; i++)
                {
                    float invFreq = (float)Math.Pow(freqBase, -2.0 * i / headDim);
                    float angle = (pos0 + t) * invFreq;
                    double c = Math.Cos(angle), s = Math.Sin(angle);
                    int b = (t * nHeads + h) * headDim;
                    int i0 = neox ? b + i : b + 2 * i;
                    int i1 = neox ? b + i + half : b + 2 * i + 1;
                    double x0 = x[i0], x1 = x[i1];
                    y[i0] = (float)(x0 * c - x1 * s);
                    y[i1] = (float)(x0 * s + x1 * c);
                }
        return y;
    }

    public static float[] SwiGlu(float[] gate, float[] up)
    {
        var y = new float[gate.Length];
        for (int i = 0; i < y.Length; i++)
        {
            double g = gate[i];
            y[i] = (float)(g / (1 + Math.Exp(-g)) * up[i]);
        }
        return y;
    }

    public static float[] Softmax(float[] x, int nRows, int n)
    {
        var y = new float[x.Length];
        for (int r = 0; r < nRows; r++)
        {
            double max = double.NegativeInfinity;
            for (int i = 0; i < n; i++)
                max = Math.Max(max, x[r * n + i]);
            double sum = 0;
            for (int i = 0; i < n; i++)
                sum += Math.Exp(x[r * n + i] - max);
            for (int i = 0; i < n; i++)
                y[r * n + i] = (float)(Math.Exp(x[r * n + i] - max) / sum);
        }
        return y;
    }

    /// <summary>Causal GQA attention of q [nTokens, nHeads*hd] over caches [ctx, nKv*hd]; query t sees 0..pos0+t.</summary>
    public static float[] Attention(float[] q, float[] k, float[] v, int nTokens, int nHeads, int nKvHeads, int headDim, int pos0)
    {
        var o = new float[nTokens * nHeads * headDim];
        int group = nHeads / nKvHeads;
        double scale = 1.0 / Math.Sqrt(headDim);
        for (int t = 0; t < nTokens; t++)
            for (int h = 0; h < nHeads; h++)
            {
                int kvh = h / group;
                int len = pos0 + t + 1;
                var s = new double[len];
                double max = double.NegativeInfinity;
                for (int j = 0; j < len; j++)
                {
                    double d = 0;
                    for (int e = 0; e < headDim; e++)
                        d += (double)q[(t * nHeads + h) * headDim + e] * k[(j * nKvHeads + kvh) * headDim + e];
                    s[j] = d * scale;
                    max = Math.Max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < len; j++)
                {
                    s[j] = Math.Exp(s[j] - max);
                    sum += s[j];
                }
                for (int e = 0; e < headDim; e++)
                {
                    double acc = 0;
                    for (int j = 0; j < len; j++)
                        acc += s[j] * v[(j * nKvHeads + kvh) * headDim + e];
                    o[(t * nHeads + h) * headDim + e] = (float)(acc / sum);
                }
            }
        return o;
    }
}
