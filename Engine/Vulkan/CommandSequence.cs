using Silk.NET.Vulkan;

namespace Tipo.Vulkan;

/// <summary>
/// One primary command buffer (with its own command pool and fence): record once, submit many times.
/// Not thread-safe; use one sequence per thread.
/// </summary>
public sealed unsafe class CommandSequence : IDisposable
{
    private readonly VulkanDevice _device;
    private CommandPool _pool;
    private CommandBuffer _cmd;
    private Fence _fence;
    private bool _recording;
    private bool _recorded;
    private Pipeline _boundPipeline;
    private bool _disposed;

    public CommandSequence(VulkanDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        device.ThrowIfDisposed();
        _device = device;
        Vk vk = device.Vk;
        var poolInfo = new CommandPoolCreateInfo
        {
            SType = StructureType.CommandPoolCreateInfo,
            QueueFamilyIndex = device.QueueFamily,
            Flags = CommandPoolCreateFlags.ResetCommandBufferBit,
        };
        VkUtil.Check(vk.CreateCommandPool(device.Device, &poolInfo, null, out CommandPool pool), "vkCreateCommandPool");
        _pool = pool;
        VkUtil.Created();
        try
        {
            var alloc = new CommandBufferAllocateInfo
            {
                SType = StructureType.CommandBufferAllocateInfo,
                CommandPool = pool,
                Level = CommandBufferLevel.Primary,
                CommandBufferCount = 1,
            };
            CommandBuffer cmd;
            VkUtil.Check(vk.AllocateCommandBuffers(device.Device, &alloc, &cmd), "vkAllocateCommandBuffers");
            _cmd = cmd;
            var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
            VkUtil.Check(vk.CreateFence(device.Device, &fenceInfo, null, out Fence fence), "vkCreateFence");
            _fence = fence;
            VkUtil.Created();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>True between <see cref="Begin"/> and <see cref="End"/>.</summary>
    public bool IsRecording => _recording;

    /// <summary>The Vulkan command buffer, for recording commands this class has no method for (between Begin and End).</summary>
    internal CommandBuffer CommandBuffer => _cmd;

    /// <summary>(Re)starts recording; discards what was recorded before.</summary>
    public void Begin()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Profiler?.Clear();
        Vk vk = _device.Vk;
        VkUtil.Check(vk.ResetCommandBuffer(_cmd, 0), "vkResetCommandBuffer");
        var begin = new CommandBufferBeginInfo { SType = StructureType.CommandBufferBeginInfo };
        VkUtil.Check(vk.BeginCommandBuffer(_cmd, &begin), "vkBeginCommandBuffer");
        _recording = true;
        _recorded = false;
        _boundPipeline = default;
        if (Profiler != null) WriteTimestamp(Profiler.Queries, 0);
    }

    /// <summary>Records a dispatch with push constants <paramref name="push"/> (its size must equal the kernel's push-constant size).</summary>
    public void Dispatch<TPush>(KernelBinding binding, in TPush push, uint groupsX, uint groupsY = 1, uint groupsZ = 1) where TPush : unmanaged
    {
        ArgumentNullException.ThrowIfNull(binding);
        DispatchWith(binding.Kernel, binding, push, groupsX, groupsY, groupsZ);
    }

    /// <summary>Like <see cref="Dispatch{TPush}(KernelBinding, in TPush, uint, uint, uint)"/> but runs <paramref name="kernel"/>'s pipeline with a binding made by
    /// another kernel whose layout is identical (same binding kinds and push size; e.g. two specializations of one shader).</summary>
    internal void DispatchWith<TPush>(ComputeKernel kernel, KernelBinding binding, in TPush push, uint groupsX, uint groupsY = 1, uint groupsZ = 1) where TPush : unmanaged
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(binding);
        if (sizeof(TPush) != kernel.PushConstantBytes)
            throw new ArgumentException($"kernel '{kernel.ShaderName}' takes {kernel.PushConstantBytes} bytes of push constants, got {sizeof(TPush)} ({typeof(TPush).Name})", nameof(push));
        BindFor(kernel, binding);
        fixed (TPush* p = &push)
            _device.Vk.CmdPushConstants(_cmd, kernel.Layout, ShaderStageFlags.ComputeBit, 0, (uint)sizeof(TPush), p);
        DispatchGroups(kernel, groupsX, groupsY, groupsZ);
    }

    /// <summary>Records a dispatch of a kernel without push constants.</summary>
    public void Dispatch(KernelBinding binding, uint groupsX, uint groupsY = 1, uint groupsZ = 1)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ComputeKernel k = binding.Kernel;
        if (k.PushConstantBytes != 0)
            throw new ArgumentException($"kernel '{k.ShaderName}' needs {k.PushConstantBytes} bytes of push constants", nameof(binding));
        BindFor(k, binding);
        DispatchGroups(k, groupsX, groupsY, groupsZ);
    }

    private void BindFor(ComputeKernel k, KernelBinding binding)
    {
        RequireRecording();
        k.ThrowIfDisposed();
        binding.Kernel.ThrowIfDisposed();
        if (k.Device != _device)
            throw new ArgumentException($"kernel '{k.ShaderName}' belongs to another device", nameof(binding));
        if (k != binding.Kernel && (!k.BindingKinds.SequenceEqual(binding.Kernel.BindingKinds) || k.PushConstantBytes != binding.Kernel.PushConstantBytes))
            throw new ArgumentException($"binding of kernel '{binding.Kernel.ShaderName}' does not fit kernel '{k.ShaderName}'", nameof(binding));
        Vk vk = _device.Vk;
        if (_boundPipeline.Handle != k.Pipeline.Handle)
        {
            vk.CmdBindPipeline(_cmd, PipelineBindPoint.Compute, k.Pipeline);
            _boundPipeline = k.Pipeline;
        }
        DescriptorSet set = binding.Set;
        vk.CmdBindDescriptorSets(_cmd, PipelineBindPoint.Compute, k.Layout, 0, 1, &set, 0, null);
    }

    private void DispatchGroups(ComputeKernel k, uint x, uint y, uint z)
    {
        uint[] max = _device.Info.MaxComputeWorkGroupCount;
        if (x == 0 || y == 0 || z == 0)
            return; // nothing to do
        if (x > max[0] || y > max[1] || z > max[2])
            throw new ArgumentOutOfRangeException(nameof(x), $"kernel '{k.ShaderName}': dispatch ({x}, {y}, {z}) exceeds maxComputeWorkGroupCount ({max[0]}, {max[1]}, {max[2]})");
        _device.Vk.CmdDispatch(_cmd, x, y, z);
        _recorded = true;
        if (Profiler != null)
        {
            Profiler.Add(k.ShaderName);
            WriteTimestamp(Profiler.Queries, Profiler.Count);
        }
    }

    /// <summary>When set before recording, a timestamp follows every dispatch (see <see cref="DispatchProfiler"/>).</summary>
    public DispatchProfiler? Profiler { get; set; }

    /// <summary>Makes compute-shader and transfer writes recorded so far visible to following compute and transfer work.</summary>
    public void Barrier()
    {
        RequireRecording();
        var mb = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
            DstAccessMask = AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit | AccessFlags.TransferReadBit | AccessFlags.TransferWriteBit,
        };
        const PipelineStageFlags stages = PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit;
        _device.Vk.CmdPipelineBarrier(_cmd, stages, stages, 0, 1, &mb, 0, null, 0, null);
    }

    /// <summary>Records a barrier between compute dispatches only (no transfers on either side): shader writes before it are
    /// visible to shader reads and writes after it. Narrower than <see cref="Barrier"/>, which also orders copies.</summary>
    public void ComputeBarrier()
    {
        RequireRecording();
        var mb = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = AccessFlags.ShaderWriteBit,
            DstAccessMask = AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit,
        };
        _device.Vk.CmdPipelineBarrier(_cmd, PipelineStageFlags.ComputeShaderBit, PipelineStageFlags.ComputeShaderBit, 0, 1, &mb, 0, null, 0, null);
    }

    /// <summary>Records a buffer-to-buffer copy.</summary>
    public void CopyBuffer(GpuBuffer src, long srcOffset, GpuBuffer dst, long dstOffset, long bytes)
    {
        ArgumentNullException.ThrowIfNull(src);
        ArgumentNullException.ThrowIfNull(dst);
        RequireRecording();
        if (srcOffset < 0 || dstOffset < 0 || bytes <= 0 || srcOffset + bytes > src.SizeBytes || dstOffset + bytes > dst.SizeBytes)
            throw new ArgumentOutOfRangeException(nameof(bytes),
                $"copy of {bytes} bytes from '{src.DebugName}'+{srcOffset} ({src.SizeBytes} bytes) to '{dst.DebugName}'+{dstOffset} ({dst.SizeBytes} bytes) is out of range");
        VulkanDevice.CopyCommand(_device.Vk, _cmd, src.Handle, srcOffset, dst.Handle, dstOffset, bytes);
        _recorded = true;
    }

    /// <summary>Records a fill of <paramref name="bytes"/> bytes of <paramref name="dst"/> from <paramref name="offset"/> with
    /// the 32-bit <paramref name="value"/> (a transfer: order it with <see cref="Barrier"/>). Offset and size multiples of 4.</summary>
    public void FillBuffer(GpuBuffer dst, long offset, long bytes, uint value)
    {
        ArgumentNullException.ThrowIfNull(dst);
        RequireRecording();
        if (offset < 0 || bytes <= 0 || offset % 4 != 0 || bytes % 4 != 0 || offset + bytes > dst.SizeBytes)
            throw new ArgumentOutOfRangeException(nameof(bytes),
                $"fill of {bytes} bytes at '{dst.DebugName}'+{offset} ({dst.SizeBytes} bytes) is out of range or not a multiple of 4");
        _device.Vk.CmdFillBuffer(_cmd, dst.Handle, (ulong)offset, (ulong)bytes, value);
        _recorded = true;
    }

    /// <summary>Records a timestamp into query <paramref name="index"/> after all previous work completes (the query is
    /// reset in the same recording).</summary>
    public void WriteTimestamp(TimestampQueries queries, int index)
    {
        ArgumentNullException.ThrowIfNull(queries);
        RequireRecording();
        queries.CheckIndex(index);
        Vk vk = _device.Vk;
        vk.CmdResetQueryPool(_cmd, queries.Pool, (uint)index, 1);
        vk.CmdWriteTimestamp(_cmd, PipelineStageFlags.BottomOfPipeBit, queries.Pool, (uint)index);
    }

    /// <summary>Ends recording (adds a barrier that makes results visible to the host after <see cref="Submit"/>).</summary>
    public void End()
    {
        RequireRecording();
        HostBarrier(_device.Vk, _cmd);
        VkUtil.Check(_device.Vk.EndCommandBuffer(_cmd), "vkEndCommandBuffer");
        _recording = false;
        _recorded = true;
    }

    /// <summary>Submits the recorded commands and waits until they finished.</summary>
    public void Submit()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_recording)
            throw new InvalidOperationException("CommandSequence.Submit: call End() first");
        if (!_recorded)
            throw new InvalidOperationException("CommandSequence.Submit: nothing recorded (call Begin() ... End() first)");
        _device.SubmitAndWait(_cmd, _fence);
    }

    private static void HostBarrier(Vk vk, CommandBuffer cmd)
    {
        var mb = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
            DstAccessMask = AccessFlags.HostReadBit,
        };
        vk.CmdPipelineBarrier(cmd, PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit, PipelineStageFlags.HostBit,
            0, 1, &mb, 0, null, 0, null);
    }

    private void RequireRecording()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_recording)
            throw new InvalidOperationException("CommandSequence: call Begin() before recording commands");
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Vk vk = _device.Vk;
        if (_fence.Handle != 0)
        {
            vk.DestroyFence(_device.Device, _fence, null);
            VkUtil.Destroyed();
        }
        if (_pool.Handle != 0)
        {
            vk.DestroyCommandPool(_device.Device, _pool, null); // frees the command buffer too
            VkUtil.Destroyed();
        }
        _fence = default;
        _pool = default;
    }
}

/// <summary>
/// GPU time per dispatch of one recording: a timestamp before the first dispatch and after each one (which also
/// serialises them, so the sum is an upper bound of the unprofiled time). Attach with <see cref="CommandSequence.Profiler"/>.
/// </summary>
public sealed class DispatchProfiler : IDisposable
{
    private readonly List<string> _names = [];

    public DispatchProfiler(VulkanDevice device, int maxDispatches) => Queries = new TimestampQueries(device, maxDispatches + 1);

    internal TimestampQueries Queries { get; }
    /// <summary>Dispatches recorded so far.</summary>
    public int Count => _names.Count;

    internal void Clear() => _names.Clear();

    internal void Add(string name)
    {
        if (_names.Count + 1 >= Queries.Count)
            throw new InvalidOperationException($"DispatchProfiler: more than {Queries.Count - 1} dispatches recorded");
        _names.Add(name);
    }

    /// <summary>After the submit: (shader, milliseconds) of every dispatch in order.</summary>
    public IReadOnlyList<(string Shader, double Milliseconds)> Read() =>
        _names.Select((n, i) => (n, Queries.ElapsedMilliseconds(i, i + 1))).ToList();

    public void Dispose() => Queries.Dispose();
}

/// <summary>A pool of GPU timestamp queries.</summary>
public sealed unsafe class TimestampQueries : IDisposable
{
    private readonly VulkanDevice _device;
    private bool _disposed;

    internal QueryPool Pool { get; private set; }
    public int Count { get; }

    public TimestampQueries(VulkanDevice device, int count)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (!device.Info.TimestampsSupported)
            throw new Tipo.Errors.UnsupportedFeatureException($"device '{device.Info.Name}' does not support timestamp queries on its compute queue");
        _device = device;
        Count = count;
        var ci = new QueryPoolCreateInfo { SType = StructureType.QueryPoolCreateInfo, QueryType = QueryType.Timestamp, QueryCount = (uint)count };
        VkUtil.Check(device.Vk.CreateQueryPool(device.Device, &ci, null, out QueryPool pool), "vkCreateQueryPool");
        Pool = pool;
        VkUtil.Created();
    }

    internal void CheckIndex(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
    }

    /// <summary>Milliseconds between timestamps <paramref name="from"/> and <paramref name="to"/> (waits for both).</summary>
    public double ElapsedMilliseconds(int from, int to)
    {
        CheckIndex(from);
        CheckIndex(to);
        ulong a = Read(from), b = Read(to);
        uint bits = _device.TimestampValidBits;
        ulong mask = bits >= 64 ? ulong.MaxValue : (1UL << (int)bits) - 1;
        ulong ticks = (b - a) & mask;
        return ticks * _device.Info.TimestampPeriodNs / 1e6;
    }

    private ulong Read(int index)
    {
        ulong value;
        VkUtil.Check(_device.Vk.GetQueryPoolResults(_device.Device, Pool, (uint)index, 1, sizeof(ulong), &value, sizeof(ulong),
            QueryResultFlags.Result64Bit | QueryResultFlags.ResultWaitBit), "vkGetQueryPoolResults");
        return value;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (Pool.Handle != 0)
        {
            _device.Vk.DestroyQueryPool(_device.Device, Pool, null);
            VkUtil.Destroyed();
            Pool = default;
        }
    }
}
