using System.Runtime.InteropServices;
using Silk.NET.Vulkan;
using Tipo.Errors;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace Tipo.Vulkan;

/// <summary>
/// A device-local storage buffer. On devices with unified memory it is host-visible and persistently mapped, so
/// <see cref="Upload{T}"/>/<see cref="Download{T}"/> are plain copies; otherwise they go through the device's staging buffer.
/// Host access must not overlap GPU work that uses the buffer (submit waits, so call them between submits).
/// </summary>
public sealed unsafe class GpuBuffer : IDisposable
{
    /// <summary>Auto: mapped on unified memory; HostStaging: host-visible staging memory (host-cached where the device has
    /// it: for what the host reads back); HostWrite: mapped, device-local where a device-local type is host-visible (a
    /// discrete GPU's resizable BAR, which the host may write fast but reads uncached), else host staging memory: for
    /// small inputs the host writes before every submit; DeviceOnly: never mapped (transfers through staging even on
    /// unified devices; used to test that path).</summary>
    internal enum Placement { Auto, HostStaging, HostWrite, DeviceOnly }

    private readonly VulkanDevice _device;
    private DeviceMemory _memory;
    private long _memoryBytes;   // the allocation's size, as counted by the device
    private byte* _mapped;
    private bool _disposed;

    internal VkBuffer Handle { get; private set; }

    /// <summary>Size in bytes.</summary>
    public long SizeBytes { get; }

    /// <summary>The buffer's memory where it is mapped into this process (host-visible device memory: lavapipe, integrated
    /// GPUs), so a writer can fill its <see cref="SizeBytes"/> in place; null where it is not (write with <see cref="Upload{T}"/>).
    /// The memory is host-coherent: what is written is visible to the next submission.</summary>
    internal byte* MappedPointer => _mapped;

    /// <summary>Bytes of the VkBuffer: <see cref="SizeBytes"/> rounded up to 16, so shaders may read whole 32-bit words
    /// (packed f16 pairs) at the end of an odd-sized buffer.</summary>
    internal long AllocatedBytes => AllocatedBytesFor(SizeBytes);

    private static long AllocatedBytesFor(long size) => (size + 15) & ~15L;

    /// <summary>Name used in error messages.</summary>
    public string DebugName { get; }

    /// <summary>True when the buffer is host-mapped (unified memory).</summary>
    public bool IsMapped => _mapped != null;

    internal VulkanDevice Device => _device;

    /// <summary>Creates a device-local storage buffer of <paramref name="sizeBytes"/> bytes (contents undefined; see <see cref="Clear"/>).</summary>
    public GpuBuffer(VulkanDevice device, long sizeBytes, string debugName) : this(device, sizeBytes, debugName, Placement.Auto) { }

    internal GpuBuffer(VulkanDevice device, long sizeBytes, string debugName, Placement placement)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeBytes);
        device.ThrowIfDisposed();
        _device = device;
        SizeBytes = sizeBytes;
        DebugName = debugName;
        Vk vk = device.Vk;

        var ci = new BufferCreateInfo
        {
            SType = StructureType.BufferCreateInfo,
            Size = (ulong)AllocatedBytesFor(sizeBytes),
            Usage = BufferUsageFlags.StorageBufferBit | BufferUsageFlags.UniformBufferBit | BufferUsageFlags.UniformTexelBufferBit |
                    BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit,
            SharingMode = SharingMode.Exclusive,
        };
        Result r = vk.CreateBuffer(device.Device, &ci, null, out VkBuffer buffer);
        ThrowIfOom(r, sizeBytes, debugName);
        VkUtil.Check(r, $"vkCreateBuffer '{debugName}' ({VulkanDevice.DescribeMemory(sizeBytes)})");
        Handle = buffer;
        VkUtil.Created();
        try
        {
            vk.GetBufferMemoryRequirements(device.Device, buffer, out MemoryRequirements req);
            const MemoryPropertyFlags hostFlags = MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit;
            var candidates = new List<(int Type, bool Map)>();
            if (placement == Placement.HostWrite)
                AddType(candidates, device.FindMemoryType(req.MemoryTypeBits, hostFlags | MemoryPropertyFlags.DeviceLocalBit), true);
            if (placement is Placement.HostStaging or Placement.HostWrite)
            {
                AddType(candidates, device.FindMemoryType(req.MemoryTypeBits, hostFlags | MemoryPropertyFlags.HostCachedBit), true);
                AddType(candidates, device.FindMemoryType(req.MemoryTypeBits, hostFlags), true);
            }
            else
            {
                if (device.Info.UnifiedMemory && placement == Placement.Auto)
                    AddType(candidates, device.FindMemoryType(req.MemoryTypeBits, hostFlags | MemoryPropertyFlags.DeviceLocalBit), true);
                AddType(candidates, device.FindMemoryType(req.MemoryTypeBits, MemoryPropertyFlags.DeviceLocalBit), false);
                AddType(candidates, device.FindMemoryType(req.MemoryTypeBits, 0), false);
            }
            if (candidates.Count == 0)
                throw new TipoException($"no suitable Vulkan memory type for buffer '{debugName}'");

            Result last = Result.ErrorOutOfDeviceMemory;
            foreach ((int type, bool map) in candidates)
            {
                var ai = new MemoryAllocateInfo { SType = StructureType.MemoryAllocateInfo, AllocationSize = req.Size, MemoryTypeIndex = (uint)type };
                last = vk.AllocateMemory(device.Device, &ai, null, out DeviceMemory memory);
                if (last != Result.Success)
                    continue;
                _memory = memory;
                _memoryBytes = (long)req.Size;
                device.CountAllocation(_memoryBytes);
                VkUtil.Created();
                VkUtil.Check(vk.BindBufferMemory(device.Device, buffer, memory, 0), "vkBindBufferMemory");
                if (map)
                {
                    void* p;
                    VkUtil.Check(vk.MapMemory(device.Device, memory, 0, Vk.WholeSize, 0, &p), "vkMapMemory");
                    _mapped = (byte*)p;
                }
                break;
            }
            ThrowIfOom(last, sizeBytes, debugName);
            VkUtil.Check(last, $"vkAllocateMemory '{debugName}' ({VulkanDevice.DescribeMemory(sizeBytes)})");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static void AddType(List<(int, bool)> list, int type, bool map)
    {
        if (type >= 0 && !list.Exists(x => x.Item1 == type))
            list.Add((type, map));
    }

    private static void ThrowIfOom(Result r, long size, string name)
    {
        if (r is Result.ErrorOutOfDeviceMemory or Result.ErrorOutOfHostMemory)
            throw new OutOfDeviceMemoryException($"out of device memory allocating {VulkanDevice.DescribeMemory(size)} ({size} bytes) for buffer '{name}'");
    }

    /// <summary>Copies <paramref name="data"/> into the buffer at <paramref name="byteOffset"/>.</summary>
    public void Upload<T>(ReadOnlySpan<T> data, long byteOffset = 0) where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(data);
        CheckRange(byteOffset, bytes.Length);
        if (_mapped != null)
        {
            bytes.CopyTo(new Span<byte>(_mapped + byteOffset, bytes.Length));
            return;
        }
        // Copy through the staging buffer, one chunk at a time.
        lock (_device.TransferLock)
        {
            GpuBuffer staging = _device.Staging;
            long done = 0;
            while (done < bytes.Length)
            {
                int chunk = (int)Math.Min(VulkanDevice.StagingSize, bytes.Length - done);
                bytes.Slice((int)done, chunk).CopyTo(new Span<byte>(staging._mapped, chunk));
                long dstOffset = byteOffset + done;
                _device.RunOneTime(cmd => VulkanDevice.CopyCommand(_device.Vk, cmd, staging.Handle, 0, Handle, dstOffset, chunk));
                done += chunk;
            }
        }
    }

    /// <summary>Copies from the buffer at <paramref name="byteOffset"/> into <paramref name="destination"/>.</summary>
    public void Download<T>(Span<T> destination, long byteOffset = 0) where T : unmanaged
    {
        Span<byte> bytes = MemoryMarshal.AsBytes(destination);
        CheckRange(byteOffset, bytes.Length);
        if (_mapped != null)
        {
            new ReadOnlySpan<byte>(_mapped + byteOffset, bytes.Length).CopyTo(bytes);
            return;
        }
        lock (_device.TransferLock)
        {
            GpuBuffer staging = _device.Staging;
            long done = 0;
            while (done < bytes.Length)
            {
                int chunk = (int)Math.Min(VulkanDevice.StagingSize, bytes.Length - done);
                long srcOffset = byteOffset + done;
                _device.RunOneTime(cmd => VulkanDevice.CopyCommand(_device.Vk, cmd, Handle, srcOffset, staging.Handle, 0, chunk));
                new ReadOnlySpan<byte>(staging._mapped, chunk).CopyTo(bytes.Slice((int)done, chunk));
                done += chunk;
            }
        }
    }

    /// <summary>Fills the whole buffer with zeros.</summary>
    public void Clear()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_mapped != null)
        {
            for (long off = 0; off < SizeBytes; off += int.MaxValue)
                new Span<byte>(_mapped + off, (int)Math.Min(int.MaxValue, SizeBytes - off)).Clear();
            return;
        }
        _device.RunOneTime(cmd =>
        {
            // vkCmdFillBuffer needs a size that is a multiple of 4; the tail is cleared through an upload.
            long aligned = SizeBytes & ~3L;
            if (aligned > 0)
                _device.Vk.CmdFillBuffer(cmd, Handle, 0, (ulong)aligned, 0);
        });
        if ((SizeBytes & 3) != 0)
            Upload<byte>(new byte[SizeBytes & 3], SizeBytes & ~3L);
    }

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset + length > SizeBytes)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"range [{offset}, {offset + length}) is outside buffer '{DebugName}' of {SizeBytes} bytes");
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Vk vk = _device.Vk;
        if (Handle.Handle != 0)
        {
            vk.DestroyBuffer(_device.Device, Handle, null);
            VkUtil.Destroyed();
            Handle = default;
        }
        if (_memory.Handle != 0)
        {
            if (_mapped != null)
                vk.UnmapMemory(_device.Device, _memory);
            _mapped = null;
            vk.FreeMemory(_device.Device, _memory, null);
            _device.CountFree(_memoryBytes);
            VkUtil.Destroyed();
            _memory = default;
        }
    }

    public override string ToString() => $"GpuBuffer '{DebugName}' ({SizeBytes} bytes)";
}

/// <summary>A byte range of a buffer bound to one storage-buffer binding (at most MaxStorageBufferRange bytes).</summary>
public readonly record struct BufferRange(GpuBuffer Buffer, long Offset, long Size)
{
    /// <summary>The whole buffer.</summary>
    public static implicit operator BufferRange(GpuBuffer buffer) => new(buffer, 0, buffer.SizeBytes);

    /// <summary>The whole buffer.</summary>
    public static BufferRange FromGpuBuffer(GpuBuffer buffer) => buffer;
}
