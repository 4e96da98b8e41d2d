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

    [TestCase(GgmlType.F32, 37, 172, 1)]
    [TestCase(GgmlType.F32, 37, 172, 13)]
    [TestCase(GgmlType.F16, 45, 130, 1)]
    [TestCase(GgmlType.F16, 45, 130, 13)]
    [TestCase(GgmlType.F16, 301, 1280, 9)]
    [TestCase(GgmlType.F16, 67, 1288, 1)]
    [TestCase(GgmlType.F16, 67, 1288, 3)]
    [TestCase(GgmlType.Q8_0, 33, 96, 1)]
    [TestCase(GgmlType.Q8_0, 33, 96, 13)]
    [TestCase(GgmlType.Q8_0, 300, 768, 1)]
    [TestCase(GgmlType.Q8_0, 300, 2304, 7)]
    public void MatchesReference(GgmlType type, int rows, int cols, int nTokens)
    {
        var layouts = new List<MatmulLayout> { MatmulLayout.SplitK };
        if (MatmulKernel.RowsLayoutFits(Device, type, cols)) layouts.Add(MatmulLayout.RowsPerLane);
        if (MatmulKernel.WideLayoutFits(type, cols)) layouts.Add(MatmulLayout.WideSplitK);
        foreach (MatmulLayout layout in layouts)
        foreach (int tileRows in layout == MatmulLayout.RowsPerLane && GpuMatrix.CanTile(type, cols) ? new[] { 0, 8, 128 } : new[] { 0 })
        foreach (bool accumulate in new[] { false, true })
        foreach (long chunkLimit in new[] { long.MaxValue, GpuMatrix.GpuRowBytes(type, cols) * Math.Max(8, tileRows) })
        {
            byte[] w = RandomWeights(type, rows, cols, rows * 7 + cols);
            var rng = new Random(5);
            float[] x = Enumerable.Range(0, nTokens * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] yInit = Enumerable.Range(0, nTokens * rows).Select(_ => (float)rng.NextDouble()).ToArray();
            float[] expected = MatmulHarness.Expected(type, w, rows, cols, x, nTokens, accumulate ? yInit : null);
            var result = MatmulHarness.Run(Device, type, w, rows, cols, x, yInit, nTokens, accumulate, chunkLimit, layout, tileRows);
            double nmse = Reference.Nmse(result.Y, expected);
            Assert.That(nmse, Is.LessThanOrEqualTo(1e-10), $"{type} {layout} tile {tileRows} {rows}x{cols} tokens {nTokens} accumulate {accumulate} chunks {result.Chunks}");
            if (chunkLimit != long.MaxValue && rows > Math.Max(8, tileRows)) Assert.That(result.Chunks, Is.GreaterThan(1));
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

    /// <summary>The per-driver kernel choices, measured where they pay (MatmulKernel's rules, README "Newer lavapipe"):
    /// Q8_0 stored as F16 on llvmpipe from Mesa 23.2 on, the fetch-order anchor on Mesa 23.2 to 24, X shared across lanes in
    /// prefill on every llvmpipe; the first two not on Mesa 22 or 23.1, and none of them on other drivers, GPUs, or an
    /// llvmpipe whose version cannot be read.</summary>
    [TestCase("llvmpipe", "Mesa 22.3.6 (LLVM 15.0.6)", DeviceKind.Cpu, false, 0u, true)]
    [TestCase("llvmpipe", "Mesa 23.1.9 (LLVM 15.0.7)", DeviceKind.Cpu, false, 0u, true)]
    [TestCase("llvmpipe", "Mesa 23.2.1-1ubuntu3.1~22.04.4 (LLVM 15.0.7)", DeviceKind.Cpu, true, 1u, true)]
    [TestCase("llvmpipe", "Mesa 24.0.5-1ubuntu1 (LLVM 17.0.6)", DeviceKind.Cpu, true, 1u, true)]
    [TestCase("llvmpipe", "Mesa 24.2.8-1ubuntu1~24.04.1 (LLVM 19.1.1)", DeviceKind.Cpu, true, 1u, true)]
    [TestCase("llvmpipe", "Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)", DeviceKind.Cpu, true, 0u, true)]
    [TestCase("llvmpipe", "Mesa 25.2.8-0ubuntu0.24.04.5 (LLVM 20.1.2)", DeviceKind.Cpu, true, 0u, true)]
    [TestCase("llvmpipe", "Mesa 26.1.0 (LLVM 19.1.7)", DeviceKind.Cpu, true, 0u, true)]
    [TestCase("llvmpipe", "", DeviceKind.Cpu, false, 0u, false)]
    [TestCase("SwiftShader driver", "Mesa 25.0.0", DeviceKind.Cpu, false, 0u, false)]
    [TestCase("NVIDIA", "580.95.05", DeviceKind.DiscreteGpu, false, 0u, false)]
    public void PerDriverChoices(string driverName, string driverInfo, DeviceKind kind, bool q8_0AsF16, uint fetchLag, bool sharesX)
    {
        DeviceInfo info = Device.Info with { DriverName = driverName, DriverInfo = driverInfo, Kind = kind };
        Assert.That((MatmulKernel.Q8_0RowsSlowerThanF16(info), MatmulKernel.FetchLagFor(info), MatmulKernel.SharesXFor(info)),
            Is.EqualTo((q8_0AsF16, fetchLag, sharesX)), "(Q8_0 as F16, fetch lag, shared X)");
    }

    /// <summary>Mesa 25's llvmpipe at 512 bits (16-lane subgroups) computes the kernels wrongly: refused with a reason that
    /// names the setting; its default 8 lanes, and Mesa 23.2 at 16, are not.</summary>
    [TestCase("Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)", 16u, true)]
    [TestCase("Mesa 25.2.8-0ubuntu0.24.04.1 (LLVM 20.1.2)", 16u, true)]
    [TestCase("Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)", 8u, false)]
    [TestCase("Mesa 23.2.1-1ubuntu3.1~22.04.4 (LLVM 15.0.7)", 16u, false)]
    [TestCase("Mesa 22.3.6 (LLVM 15.0.6)", 16u, false)]
    public void WideLlvmpipeSubgroupsOnMesa25AreRefused(string driverInfo, uint subgroupSize, bool refused)
    {
        DeviceInfo info = Device.Info with { Kind = DeviceKind.Cpu, DriverName = "llvmpipe", DriverInfo = driverInfo, SubgroupSize = subgroupSize };
        string? why = MatmulKernel.WrongResultsOn(info);
        Assert.That(why != null, Is.EqualTo(refused), why ?? "(accepted)");
        if (refused) Assert.That(why, Does.Contain("LP_NATIVE_VECTOR_WIDTH=512"));
    }

    /// <summary>A fetch lag of the rows per lane or more would anchor no row: an error, not a silent no-op.</summary>
    [Test]
    public void FetchLagBeyondTheRowsIsRefused() =>
        Assert.That(() => new MatmulKernel(Device, GgmlType.F16, 1, layout: MatmulLayout.RowsPerLane, fetchLag: MatmulKernel.DecodeRowsPerLane),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("rows per lane"));

    /// <summary>Decode (one token per workgroup) has no shared X: asking for it is an error; the default leaves it off.
    /// Prefill shares it in the float and Q8_0 kernels alike.</summary>
    [Test]
    public void SharedXOutsidePrefillIsRefused()
    {
        Assert.That(() => new MatmulKernel(Device, GgmlType.F16, 1, layout: MatmulLayout.RowsPerLane, shareX: true),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("X cannot be shared"));
        Assert.That(() => new MatmulKernel(Device, GgmlType.Q8_0, 1, layout: MatmulLayout.RowsPerLane, shareX: true),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("X cannot be shared"));
        using var decode = new MatmulKernel(Device, GgmlType.F16, 1, layout: MatmulLayout.RowsPerLane);
        Assert.That(decode.XShared, Is.False);
        if (Device.Info.Kind != DeviceKind.Cpu) return;   // the rows-per-lane layout's lanes are one subgroup on CPU devices
        using var q8Prefill = new MatmulKernel(Device, GgmlType.Q8_0, 8, layout: MatmulLayout.RowsPerLane, shareX: true);
        Assert.That(q8Prefill.XShared, Is.True);
    }

    /// <summary>The CPU kernel set needs subgroup ballot and shuffle operations (its matmuls are compiled with
    /// subgroupBroadcastFirst and subgroupShuffle).</summary>
    [Test]
    public void CpuKernelsNeedSubgroupBallotAndShuffle()
    {
        Assert.That(KernelSets.CpuKernelsRunOn(Device.Info with { SubgroupBallot = false, SubgroupShuffle = true }), Is.False);
        Assert.That(KernelSets.CpuKernelsRunOn(Device.Info with { SubgroupBallot = true, SubgroupShuffle = false }), Is.False);
        Assert.That(KernelSets.CpuKernelsRunOn(Device.Info with { SubgroupBallot = true, SubgroupShuffle = true }), Is.True);
        if (Device.Info.Kind == DeviceKind.Cpu)
            Assert.That((Device.Info.SubgroupBallot, Device.Info.SubgroupShuffle), Is.EqualTo((true, true)), "lavapipe has subgroup ballot and shuffle operations");
    }
}
