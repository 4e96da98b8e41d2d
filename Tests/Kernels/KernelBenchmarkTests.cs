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

    [Test, Explicit("prints GB/s numbers; slow on lavapipe")]
    public void PrintBandwidth()
    {
        foreach (BandwidthResult r in KernelBenchmarks.Run(Device))
            TestContext.Out.WriteLine(r);
    }
}
