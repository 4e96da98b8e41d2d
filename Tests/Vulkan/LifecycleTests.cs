using System.Diagnostics;
using System.Globalization;
using Tipo.Inference.Kernels;
using Tipo.Tests.Kernels;
using Tipo.Vulkan;

namespace Tipo.Tests.Vulkan;

/// <summary>Object ownership: create and dispose everything many times; nothing may be left.</summary>
[NonParallelizable]
public class LifecycleTests
{
    [SetUp]
    public void Drain() => VulkanDevice.TakeValidationMessages();

    [TearDown]
    public void CheckValidation() => GpuTest.AssertNoValidationMessages("during the test");

    [Test]
    public void OpenUseDispose_50Times_LeavesNothing()
    {
        long baseline = VulkanDevice.LiveObjectCount;
        long rssAfterWarmup = 0;
        for (int i = 0; i < 50; i++)
        {
            using (VulkanDevice d = VulkanDevice.Open())
            {
                using var y = new GpuBuffer(d, 4096, "y");
                using var x = new GpuBuffer(d, 4096, "x");
                using var add = new AddKernel(d);
                using var raw = new ComputeKernel(d, "add", 2, 4, [32u]);
                KernelBinding b = add.Bind(y, x);
                KernelBinding b2 = raw.Bind(y, x);
                for (int j = 0; j < 70; j++) // more than one descriptor pool's worth of sets
                    raw.Bind(y, x);
                x.Upload<float>(Reference.Random(1024, i));
                y.Clear();
                using var ts = new TimestampQueries(d, 2);
                using var seq = new CommandSequence(d);
                seq.Begin();
                seq.WriteTimestamp(ts, 0);
                add.Record(seq, b, 1024);
                seq.Barrier();
                seq.Dispatch<uint>(b2, 1024u, 32u); // push = n (explicit type: the non-generic overload takes group counts)
                seq.WriteTimestamp(ts, 1);
                seq.End();
                seq.Submit();
                var got = new float[4];
                y.Download<float>(got);
                Assert.That(VulkanDevice.LiveObjectCount, Is.GreaterThan(baseline));
            }
            Assert.That(VulkanDevice.LiveObjectCount, Is.EqualTo(baseline), $"live Vulkan objects after iteration {i}");
            if (i == 9)
            {
                GC.Collect();
                rssAfterWarmup = Process.GetCurrentProcess().WorkingSet64;
            }
        }
        GC.Collect();
        long rss = Process.GetCurrentProcess().WorkingSet64;
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RSS after 10 cycles {rssAfterWarmup >> 20} MiB, after 50 {rss >> 20} MiB"));
        Assert.That(rss - rssAfterWarmup, Is.LessThan(64L << 20), "RSS grew by more than 64 MiB over 40 device cycles");
    }

    /// <summary>Pipelines compile on worker threads: kernels disposed while theirs compile leave nothing, and
    /// WaitForPipelines returns with the device usable.</summary>
    [Test]
    public void KernelsDisposedWhileCompiling_LeaveNothing()
    {
        long baseline = VulkanDevice.LiveObjectCount;
        for (int i = 0; i < 3; i++)
        {
            using (VulkanDevice d = VulkanDevice.Open())
            {
                // Prefill matmuls: the slowest pipelines to compile on llvmpipe (~0.1 s each).
                var kernels = Enumerable.Range(0, 6).Select(k => new MatmulKernel(d, Tipo.Models.GgmlType.F16, k % 2 == 0 ? 8u : 4u,
                    layout: MatmulLayout.RowsPerLane, tileRows: MatmulKernel.RowsLayoutTileRows(d))).ToList();
                foreach (var k in kernels.Take(3)) k.Dispose();   // most still compiling
                d.WaitForPipelines();
                using var y = new GpuBuffer(d, 4096, "y");
                using var x = new GpuBuffer(d, 4096, "x");
                using var add = new AddKernel(d);
                KernelBinding b = add.Bind(y, x);
                x.Upload<float>(Enumerable.Repeat(1.5f, 1024).ToArray());
                y.Clear();
                using (var seq = new CommandSequence(d))
                {
                    seq.Begin();
                    add.Record(seq, b, 1024);
                    seq.End();
                    seq.Submit();
                }
                var got = new float[1024];
                y.Download<float>(got);
                Assert.That(got, Is.All.EqualTo(1.5f));
                foreach (var k in kernels.Skip(3)) k.Dispose();
                // One more, disposed at once (its Dispose waits for its compilation).
                new MatmulKernel(d, Tipo.Models.GgmlType.F16, 8u, layout: MatmulLayout.RowsPerLane, tileRows: MatmulKernel.RowsLayoutTileRows(d)).Dispose();
            }
            Assert.That(VulkanDevice.LiveObjectCount, Is.EqualTo(baseline), $"live Vulkan objects after round {i}");
        }
    }

    /// <summary>WaitForPipelines waits for every compilation before it throws the first failure, unwrapped; the failure
    /// stays the device's until its kernel lets it go, and the device waits for compilations still running when disposed.</summary>
    [Test]
    public void WaitForPipelines_WaitsForAllThenThrowsTheFailure()
    {
        using VulkanDevice d = VulkanDevice.Open();
        var failed = Task.Run(() => throw new Tipo.Errors.TipoException("compile failed"));
        var slow = Task.Run(() => Thread.Sleep(300));
        d.TrackPipeline(failed);
        d.TrackPipeline(slow);
        var e = Assert.Throws<Tipo.Errors.TipoException>(d.WaitForPipelines);
        Assert.That(e!.Message, Is.EqualTo("compile failed"));
        Assert.That(slow.IsCompletedSuccessfully, "the slow compilation was waited for before the failure was thrown");
        Assert.Throws<Tipo.Errors.TipoException>(d.WaitForPipelines, "still the device's until its kernel is disposed");
        d.UntrackPipeline(failed);
        Assert.DoesNotThrow(d.WaitForPipelines);

        var running = Task.Run(() => Thread.Sleep(300));
        d.TrackPipeline(running);
        d.Dispose();
        Assert.That(running.IsCompleted, "Dispose waited for the compilation still running");
    }

    [Test]
    public unsafe void ValidationLayer_RecordsMessages()
    {
        if (Environment.GetEnvironmentVariable("TIPO_VALIDATION") != "1")
            Assert.Ignore("TIPO_VALIDATION=1 is not set");
        using VulkanDevice d = VulkanDevice.Open();
        // A deliberately invalid call: a buffer of size 0 (VUID-VkBufferCreateInfo-size-00912).
        var ci = new Silk.NET.Vulkan.BufferCreateInfo
        {
            SType = Silk.NET.Vulkan.StructureType.BufferCreateInfo,
            Size = 0,
            Usage = Silk.NET.Vulkan.BufferUsageFlags.StorageBufferBit,
        };
        Silk.NET.Vulkan.Result r = d.Vk.CreateBuffer(d.Device, &ci, null, out Silk.NET.Vulkan.Buffer buf);
        if (r == Silk.NET.Vulkan.Result.Success)
            d.Vk.DestroyBuffer(d.Device, buf, null);
        IReadOnlyList<string> messages = VulkanDevice.TakeValidationMessages();
        Assert.That(messages, Is.Not.Empty);
        Assert.That(messages[0], Does.Contain("size"));
    }
}
