using Tipo.Inference.Kernels;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Kernels;

/// <summary>Runs the napkin-math bandwidth measurements and prints them; asserts nothing about speed.</summary>
public class KernelBenchmarkTests : GpuTest
{
    [Test]
    public void SmallBenchmark_Runs()
    {
        BandwidthResult r = KernelBenchmarks.Matmul(Device, Tipo.Models.GgmlType.F16, 64, 128, repeats: 1);
        TestContext.Out.WriteLine(r);
        Assert.That(r.Milliseconds, Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void RooflineReadKernels_Run()
    {
        var (best, storage, texel) = KernelBenchmarks.Roofline(Device, 128L << 20, repeats: 1);
        TestContext.Out.WriteLine($"{storage}\n{texel}");
        Assert.That(best.GBps, Is.EqualTo(Math.Max(storage.GBps, texel.GBps)));
        Assert.That(texel.BytesRead, Is.EqualTo(128L << 20));
    }

    [Test]
    public void DependentDispatchCost_IsAPositiveTime()
    {
        double us = KernelBenchmarks.DependentDispatchMicroseconds(Device, workgroups: 4, dispatches: 8, repeats: 1);
        TestContext.Out.WriteLine($"{us:F2} µs per dependent dispatch");
        Assert.That(us, Is.GreaterThan(0).And.LessThan(1e6));
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelBenchmarks.DependentDispatchMicroseconds(Device, workgroups: 0, dispatches: 8));
    }

    [Test]
    public void PeakFmaProbe_ComputesItsChainsAsTheCpuDoes()
    {
        // Each lane's output is the sum of its chains, each started at 1 + (lane + c) / 1000 and taken through
        // iterations x unroll multiply-adds; fused or not, the two roundings differ by far less than the tolerance.
        const uint groups = 2, iterations = 3;
        float[] gpu = KernelBenchmarks.PeakOutputs(Device, groups, iterations);
        Assert.That(gpu, Has.Length.EqualTo(groups * KernelBenchmarks.PeakWorkgroupSize));
        for (int i = 0; i < gpu.Length; i++)
        {
            uint lane = (uint)i % KernelBenchmarks.PeakWorkgroupSize;
            float sum = 0;
            for (uint c = 0; c < KernelBenchmarks.PeakChains; c++)
            {
                float acc = 1f + (lane + c) * 1.0e-3f;
                for (uint step = 0; step < iterations * KernelBenchmarks.PeakUnroll; step++)
                    acc = MathF.FusedMultiplyAdd(acc, KernelBenchmarks.PeakA, KernelBenchmarks.PeakB);
                sum += acc;
            }
            Assert.That(gpu[i], Is.EqualTo(sum).Within(1e-5).Percent, $"lane {i}");
        }
    }

    [Test]
    public void PeakFlops_IsAPositiveRateOfTheCountedWork()
    {
        ComputeResult r = KernelBenchmarks.PeakFlops(Device, repeats: 1, targetMs: 5);
        TestContext.Out.WriteLine(r);
        Assert.That(r.Gflops, Is.GreaterThan(0).And.LessThan(1e6));
        Assert.That(r.Flops % KernelBenchmarks.PeakFlopsOf(1, 1), Is.Zero, "whole dispatches of whole iterations");
    }

    [Test, Explicit("prints GB/s numbers; slow on lavapipe")]
    public void PrintBandwidth()
    {
        foreach (BandwidthResult r in KernelBenchmarks.Run(Device))
            TestContext.Out.WriteLine(r);
    }
}
