using Tipo.Vulkan;

namespace Tipo.Tests.Vulkan;

/// <summary><see cref="VulkanDevice.AllocatedDeviceBytes"/> and <see cref="VulkanDevice.LiveAllocations"/>: what
/// vkAllocateMemory gave minus what vkFreeMemory returned, counted from any thread.</summary>
public class AllocationCounterTests : GpuTest
{
    [Test]
    public void ABufferCountsItsAllocationUntilDisposed()
    {
        long bytes = Device.AllocatedDeviceBytes, live = Device.LiveAllocations;
        var buffer = new GpuBuffer(Device, 1000, "counted");
        Assert.Multiple(() =>
        {
            Assert.That(Device.AllocatedDeviceBytes - bytes, Is.GreaterThanOrEqualTo(1000));
            Assert.That(Device.LiveAllocations - live, Is.EqualTo(1));
        });
        buffer.Dispose();
        buffer.Dispose();   // a second Dispose frees nothing twice
        Assert.Multiple(() =>
        {
            Assert.That(Device.AllocatedDeviceBytes, Is.EqualTo(bytes));
            Assert.That(Device.LiveAllocations, Is.EqualTo(live));
        });
    }

    [Test]
    public void AllocationsAndFreesFromManyThreadsBalance()
    {
        long bytes = Device.AllocatedDeviceBytes, live = Device.LiveAllocations;
        var buffers = new GpuBuffer[64];
        Parallel.For(0, buffers.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            i => buffers[i] = new GpuBuffer(Device, 4096 + 16 * i, $"b{i}"));
        Assert.That(Device.LiveAllocations - live, Is.EqualTo(64));
        Assert.That(Device.AllocatedDeviceBytes - bytes, Is.GreaterThanOrEqualTo(buffers.Sum(b => b.SizeBytes)));
        Parallel.ForEach(buffers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, b => b.Dispose());
        Assert.Multiple(() =>
        {
            Assert.That(Device.AllocatedDeviceBytes, Is.EqualTo(bytes));
            Assert.That(Device.LiveAllocations, Is.EqualTo(live));
        });
    }
}
