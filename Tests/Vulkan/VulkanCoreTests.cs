using Tipo.Errors;
using Tipo.Inference.Kernels;
using Tipo.Tests.Kernels;
using Tipo.Vulkan;

namespace Tipo.Tests.Vulkan;

public class VulkanCoreTests : GpuTest
{
    [Test]
    public void EnumerateDevices_ListsTheOpenDevice()
    {
        IReadOnlyList<DeviceInfo> devices = VulkanDevice.EnumerateDevices();
        Assert.That(devices, Is.Not.Empty);
        Assert.That(devices.Any(d => d.Name == Device.Info.Name), Is.True);
        DeviceInfo i = Device.Info;
        TestContext.Out.WriteLine($"{i.Name} {i.KindText} {i.DriverName} {i.ApiVersion} subgroup {i.SubgroupSize} arith {i.SubgroupArithmetic} " +
                                  $"maxRange {i.MaxStorageBufferRange} unified {i.UnifiedMemory} f16 {i.ShaderFloat16} s16 {i.Storage16Bit}");
        Assert.That(i.MaxComputeWorkGroupCount, Has.Length.EqualTo(3));
        Assert.That(i.MaxStorageBufferRange, Is.GreaterThan(0));
        Assert.That(i.ApiVersion, Does.Match(@"^\d+\.\d+\.\d+$"));
    }

    [Test]
    public void Open_UnknownSelector_ThrowsDeviceNotFoundListingDevices()
    {
        var e = Assert.Throws<DeviceNotFoundException>(() => VulkanDevice.Open("no-such-device-xyz"))!;
        Assert.That(e.Message, Does.Contain("no-such-device-xyz").And.Contain(Device.Info.Name));
    }

    [Test]
    public void Open_ByIndexAndName()
    {
        using (VulkanDevice d = VulkanDevice.Open(Device.Info.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            Assert.That(d.Info.Name, Is.EqualTo(Device.Info.Name));
        using (VulkanDevice d = VulkanDevice.Open(Device.Info.Name.ToUpperInvariant()[..3]))
            Assert.That(d.Info.Name, Does.Contain(Device.Info.Name[..3]).IgnoreCase);
    }

    [Test]
    public void Buffer_UploadDownloadClear_RoundTrips()
    {
        using var b = new GpuBuffer(Device, 1001 * 4 + 2, "roundtrip");
        float[] data = Reference.Random(1001, 1);
        b.Upload<float>(data);
        var back = new float[1001];
        b.Download<float>(back);
        Assert.That(back, Is.EqualTo(data));
        b.Upload<float>(data.AsSpan(0, 10), 400);
        var part = new float[10];
        b.Download<float>(part, 400);
        Assert.That(part, Is.EqualTo(data[..10]));
        b.Clear();
        var bytes = new byte[b.SizeBytes];
        b.Download<byte>(bytes);
        Assert.That(bytes.All(x => x == 0), Is.True);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Upload<float>(data, 8));
    }

    [Test]
    public void Bind_RangeOverMaxStorageBufferRange_Throws()
    {
        long size = (long)Device.Info.MaxStorageBufferRange + 4096;
        using var big = new GpuBuffer(Device, size, "too-big");
        using var add = new ComputeKernel(Device, "add", 2, 4, [64u]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => add.Bind(big, new BufferRange(big, 0, 1024)))!;
        Assert.That(e.Message, Does.Contain("maxStorageBufferRange").And.Contain("too-big"));
        Assert.DoesNotThrow(() => add.Bind(new BufferRange(big, 0, (long)Device.Info.MaxStorageBufferRange), new BufferRange(big, 4096, 4096)));
    }

    [Test]
    public void Buffer_OutOfMemory_NamesSizeAndBuffer()
    {
        // Far more than any heap: allocation must fail with OutOfDeviceMemoryException naming the buffer.
        ulong total = Device.Info.MemoryHeaps.Aggregate(0UL, (s, h) => s + h.Size);
        long size = (long)Math.Min(total * 4, 1UL << 50);
        var e = Assert.Throws<OutOfDeviceMemoryException>(() => new GpuBuffer(Device, size, "huge-test-buffer").Dispose())!;
        Assert.That(e.Message, Does.Contain("huge-test-buffer").And.Contain(size.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Sequence_RecordOnceSubmitMany_WithCopyAndTimestamps()
    {
        const int n = 1000;
        using var y = new GpuBuffer(Device, n * 4, "y");
        using var x = new GpuBuffer(Device, n * 4, "x");
        using var copy = new GpuBuffer(Device, n * 4, "copy");
        using var add = new AddKernel(Device);
        float[] xs = Reference.Random(n, 2);
        x.Upload<float>(xs);
        y.Clear();
        KernelBinding b = add.Bind(y, x);
        using var seq = new CommandSequence(Device);
        using var ts = new TimestampQueries(Device, 2);
        seq.Begin();
        seq.WriteTimestamp(ts, 0);
        add.Record(seq, b, n);
        seq.Barrier();
        seq.CopyBuffer(y, 0, copy, 0, n * 4);
        seq.WriteTimestamp(ts, 1);
        seq.End();
        for (int i = 0; i < 3; i++)
            seq.Submit();
        var got = new float[n];
        copy.Download<float>(got);
        Assert.That(got, Is.EqualTo(xs.Select(v => 3 * v).ToArray()).Within(1e-6));
        Assert.That(ts.ElapsedMilliseconds(0, 1), Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void Dispose_IsIdempotent()
    {
        using var d = VulkanDevice.Open();
        var b = new GpuBuffer(d, 64, "b");
        var k = new ComputeKernel(d, "add", 2, 4, [64u]);
        var s = new CommandSequence(d);
        var q = new TimestampQueries(d, 2);
        k.Bind(b, b);
        foreach (IDisposable o in new IDisposable[] { q, s, k, b, d })
        {
            o.Dispose();
            o.Dispose();
        }
    }

    /// <summary>A kernel whose SPIR-V module is not embedded fails with an error naming the shader.</summary>
    [Test]
    public void MissingShader_GivesClearError()
    {
        var e = Assert.Throws<TipoException>(() => new ComputeKernel(Device, "no_such_shader", 1, 0, []))!;
        Assert.That(e.Message, Does.Contain("no_such_shader"));
    }
}

/// <summary>The staging path used on devices without unified memory, forced on the test device.</summary>
public class StagingPathTests : GpuTest
{
    [Test]
    public void UnmappedBuffer_UploadDownloadClear_ThroughStaging()
    {
        long size = VulkanDevice.StagingSize + 4096 + 6; // more than one staging chunk, not a multiple of 4
        using var b = new GpuBuffer(Device, size, "unmapped", GpuBuffer.Placement.DeviceOnly);
        Assert.That(b.IsMapped, Is.False);
        var data = new byte[size];
        new Random(3).NextBytes(data);
        b.Upload<byte>(data);
        var back = new byte[size];
        b.Download<byte>(back);
        Assert.That(back.AsSpan().SequenceEqual(data), Is.True);
        var part = new float[5];
        b.Download<float>(part, 1024);
        Assert.That(part, Is.EqualTo(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.AsSpan(1024, 20)).ToArray()));
        b.Clear();
        b.Download<byte>(back);
        Assert.That(back.All(x => x == 0), Is.True);

        // A kernel writes it, the host reads it back.
        using var x = new GpuBuffer(Device, 400, "x");
        x.Upload<float>(Enumerable.Range(0, 100).Select(i => (float)i).ToArray());
        using var add = new AddKernel(Device);
        KernelBinding kb = add.Bind(new BufferRange(b, 0, 400), x);
        using var seq = new CommandSequence(Device);
        seq.Begin();
        add.Record(seq, kb, 100);
        seq.End();
        seq.Submit();
        var got = new float[100];
        b.Download<float>(got);
        Assert.That(got, Is.EqualTo(Enumerable.Range(0, 100).Select(i => (float)i).ToArray()));
    }
}
