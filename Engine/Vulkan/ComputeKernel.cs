using Silk.NET.Vulkan;
using Tipo.Errors;

namespace Tipo.Vulkan;

/// <summary>How a shader sees one binding of set 0.</summary>
public enum BindingKind
{
    /// <summary><c>buffer</c> block (read/write, up to maxStorageBufferRange).</summary>
    StorageBuffer,
    /// <summary><c>uniform</c> block (read-only, up to maxUniformBufferRange; small vectors every lane reads).</summary>
    UniformBuffer,
    /// <summary><c>utextureBuffer</c> of R32G32B32A32_UINT texels, 16 bytes each (read-only, up to maxTexelBufferElements
    /// texels: 2 GiB where storage bindings stop at 128 MiB). Read with <c>texelFetch</c>; on lavapipe much faster than
    /// storage-buffer loads.</summary>
    UniformTexelBuffer,
}

/// <summary>
/// One compute pipeline built from the embedded SPIR-V module <c>Tipo.Shaders.&lt;shaderName&gt;.spv</c>:
/// bindings 0..n-1 of set 0 (storage buffers, or the <see cref="BindingKind"/>s given), an optional push-constant block and
/// specialization constants with ids 0..n-1 (each 32 bits; pass floats as their bits).
/// Owns its descriptor pools: every <see cref="KernelBinding"/> made by <see cref="Bind"/> lives until the kernel is disposed.
/// The pipeline compiles on a worker thread, started by the constructor: recording a dispatch waits for it, and
/// <see cref="VulkanDevice.WaitForPipelines"/> waits for all of a device's.
/// </summary>
public sealed unsafe class ComputeKernel : IDisposable
{
    private const uint SetsPerPool = 64;
    private readonly VulkanDevice _device;
    private readonly List<DescriptorPool> _pools = [];
    private readonly object _lock = new();
    private bool _disposed;

    internal DescriptorSetLayout SetLayout { get; private set; }
    internal PipelineLayout Layout { get; private set; }
    /// <summary>The compute pipeline: waits for its compilation (started by the constructor) and throws what that threw.</summary>
    internal Pipeline Pipeline => _pipeline?.GetAwaiter().GetResult() ?? throw new ObjectDisposedException(nameof(ComputeKernel));
    private Task<Pipeline>? _pipeline;
    internal VulkanDevice Device => _device;

    public string ShaderName { get; }
    public int BindingCount => _kinds.Length;
    /// <summary>The kind of each binding.</summary>
    public IReadOnlyList<BindingKind> BindingKinds => _kinds;
    private readonly BindingKind[] _kinds;
    private readonly List<BufferView> _views = [];
    public int PushConstantBytes { get; }

    public ComputeKernel(VulkanDevice device, string shaderName, int bindingCount, int pushConstantBytes, ReadOnlySpan<uint> specializationConstants)
        : this(device, shaderName, StorageBindings(bindingCount), pushConstantBytes, specializationConstants)
    {
    }

    private static BindingKind[] StorageBindings(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count, "bindingCount");
        return Enumerable.Repeat(BindingKind.StorageBuffer, count).ToArray();
    }

    /// <summary>A kernel whose bindings 0..n-1 are of the given kinds.</summary>
    public ComputeKernel(VulkanDevice device, string shaderName, BindingKind[] bindingKinds, int pushConstantBytes, ReadOnlySpan<uint> specializationConstants)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(bindingKinds);
        device.ThrowIfDisposed();
        _kinds = (BindingKind[])bindingKinds.Clone();
        int bindingCount = _kinds.Length;
        if (pushConstantBytes < 0 || pushConstantBytes % 4 != 0 || pushConstantBytes > 128)
            throw new ArgumentOutOfRangeException(nameof(pushConstantBytes), "push constants must be a multiple of 4 bytes, at most 128");
        _device = device;
        ShaderName = shaderName;
        PushConstantBytes = pushConstantBytes;
        byte[] code = LoadSpirv(shaderName);
        Vk vk = device.Vk;
        try
        {
            var bindings = new DescriptorSetLayoutBinding[Math.Max(1, bindingCount)];
            for (int i = 0; i < bindingCount; i++)
            {
                bindings[i] = new DescriptorSetLayoutBinding
                {
                    Binding = (uint)i,
                    DescriptorType = DescriptorTypeOf(_kinds[i]),
                    DescriptorCount = 1,
                    StageFlags = ShaderStageFlags.ComputeBit,
                };
            }
            fixed (DescriptorSetLayoutBinding* pb = bindings)
            {
                var dslInfo = new DescriptorSetLayoutCreateInfo
                {
                    SType = StructureType.DescriptorSetLayoutCreateInfo,
                    BindingCount = (uint)bindingCount,
                    PBindings = pb,
                };
                VkUtil.Check(vk.CreateDescriptorSetLayout(device.Device, &dslInfo, null, out DescriptorSetLayout dsl), "vkCreateDescriptorSetLayout");
                SetLayout = dsl;
                VkUtil.Created();
            }

            var range = new PushConstantRange { StageFlags = ShaderStageFlags.ComputeBit, Offset = 0, Size = (uint)pushConstantBytes };
            DescriptorSetLayout setLayout = SetLayout;
            var plInfo = new PipelineLayoutCreateInfo
            {
                SType = StructureType.PipelineLayoutCreateInfo,
                SetLayoutCount = 1,
                PSetLayouts = &setLayout,
                PushConstantRangeCount = pushConstantBytes > 0 ? 1u : 0u,
                PPushConstantRanges = pushConstantBytes > 0 ? &range : null,
            };
            VkUtil.Check(vk.CreatePipelineLayout(device.Device, &plInfo, null, out PipelineLayout layout), "vkCreatePipelineLayout");
            Layout = layout;
            VkUtil.Created();

            // llvmpipe compiles a pipeline in vkCreateComputePipelines (a prefill matmul: up to ~0.3 s of LLVM), so each
            // kernel compiles on a worker thread and kernels created one after another compile side by side; the first
            // use waits (Pipeline), and VulkanDevice.WaitForPipelines lets a loader surface errors where it builds.
            uint[] values = specializationConstants.ToArray();
            PipelineLayout pipelineLayout = Layout;
            _pipeline = Task.Run(() => CreatePipeline(device, shaderName, code, values, pipelineLayout));
            device.TrackPipeline(_pipeline);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static Pipeline CreatePipeline(VulkanDevice device, string shaderName, byte[] code, uint[] values, PipelineLayout layout)
    {
        Vk vk = device.Vk;
        ShaderModule module;
        fixed (byte* pc = code)
        {
            var smInfo = new ShaderModuleCreateInfo { SType = StructureType.ShaderModuleCreateInfo, CodeSize = (nuint)code.Length, PCode = (uint*)pc };
            VkUtil.Check(vk.CreateShaderModule(device.Device, &smInfo, null, out module), $"vkCreateShaderModule ({shaderName})");
        }
        try
        {
            int n = values.Length;
            var entries = new SpecializationMapEntry[Math.Max(1, n)];
            for (int i = 0; i < n; i++)
                entries[i] = new SpecializationMapEntry { ConstantID = (uint)i, Offset = (uint)(i * 4), Size = 4 };
            byte* entryName = stackalloc byte[] { (byte)'m', (byte)'a', (byte)'i', (byte)'n', 0 };
            fixed (SpecializationMapEntry* pe = entries)
            fixed (uint* pv = values)
            {
                var spec = new SpecializationInfo { MapEntryCount = (uint)n, PMapEntries = pe, DataSize = (nuint)(n * 4), PData = pv };
                var ci = new ComputePipelineCreateInfo
                {
                    SType = StructureType.ComputePipelineCreateInfo,
                    Stage = new PipelineShaderStageCreateInfo
                    {
                        SType = StructureType.PipelineShaderStageCreateInfo,
                        Stage = ShaderStageFlags.ComputeBit,
                        Module = module,
                        PName = entryName,
                        PSpecializationInfo = n > 0 ? &spec : null,
                    },
                    Layout = layout,
                };
                Pipeline pipeline;
                VkUtil.Check(vk.CreateComputePipelines(device.Device, default, 1, &ci, null, &pipeline), $"vkCreateComputePipelines ({shaderName})");
                VkUtil.Created();
                return pipeline;
            }
        }
        finally
        {
            vk.DestroyShaderModule(device.Device, module, null);
        }
    }

    internal static byte[] LoadSpirv(string shaderName)
    {
        string resource = $"Tipo.Shaders.{shaderName}.spv";
        using Stream? s = typeof(ComputeKernel).Assembly.GetManifestResourceStream(resource);
        if (s == null)
            throw new TipoException($"shader '{shaderName}' is not embedded (resource {resource}); is Shaders/{shaderName}.comp missing?");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Creates a descriptor set holding <paramref name="buffers"/> at bindings 0..n-1. Written once, reusable in any
    /// number of recordings; freed with the kernel.</summary>
    public KernelBinding Bind(params BufferRange[] buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffers.Length != BindingCount)
            throw new ArgumentException($"kernel '{ShaderName}' has {BindingCount} bindings, got {buffers.Length} buffers", nameof(buffers));
        DeviceInfo info = _device.Info;
        for (int i = 0; i < buffers.Length; i++)
        {
            BufferRange b = buffers[i];
            if (b.Buffer == null)
                throw new ArgumentException($"kernel '{ShaderName}' binding {i}: buffer is null", nameof(buffers));
            if (b.Buffer.Device != _device)
                throw new ArgumentException($"kernel '{ShaderName}' binding {i}: buffer '{b.Buffer.DebugName}' belongs to another device", nameof(buffers));
            if (b.Offset < 0 || b.Size <= 0 || b.Offset + b.Size > b.Buffer.SizeBytes)
                throw new ArgumentOutOfRangeException(nameof(buffers),
                    $"kernel '{ShaderName}' binding {i}: range [{b.Offset}, {b.Offset + b.Size}) is outside buffer '{b.Buffer.DebugName}' of {b.Buffer.SizeBytes} bytes");
            (ulong maxRange, ulong alignment, string limit) = _kinds[i] switch
            {
                BindingKind.UniformBuffer => (info.MaxUniformBufferRange, info.MinUniformBufferOffsetAlignment, "maxUniformBufferRange"),
                BindingKind.UniformTexelBuffer => (info.MaxTexelBufferElements * TexelBytes, info.MinTexelBufferOffsetAlignment, "maxTexelBufferElements"),
                _ => (info.MaxStorageBufferRange, info.MinStorageBufferOffsetAlignment, "maxStorageBufferRange"),
            };
            if ((ulong)b.Size > maxRange)
                throw new ArgumentOutOfRangeException(nameof(buffers),
                    $"kernel '{ShaderName}' binding {i}: {b.Size} bytes of buffer '{b.Buffer.DebugName}' exceed the device's {limit} ({maxRange} bytes); split it into several ranges (see MatrixSplit)");
            if ((ulong)b.Offset % alignment != 0)
                throw new ArgumentOutOfRangeException(nameof(buffers),
                    $"kernel '{ShaderName}' binding {i}: offset {b.Offset} is not a multiple of the device's offset alignment for {_kinds[i]} ({alignment})");
            if (_kinds[i] == BindingKind.UniformTexelBuffer && b.Offset + ((b.Size + TexelBytes - 1) / TexelBytes * TexelBytes) > b.Buffer.AllocatedBytes)
                throw new ArgumentOutOfRangeException(nameof(buffers),
                    $"kernel '{ShaderName}' binding {i}: the last 16-byte texel of [{b.Offset}, {b.Offset + b.Size}) runs past buffer '{b.Buffer.DebugName}'");
        }

        DescriptorSet set = AllocateSet();
        Vk vk = _device.Vk;
        var infos = new DescriptorBufferInfo[Math.Max(1, buffers.Length)];
        var views = new BufferView[Math.Max(1, buffers.Length)];
        var writes = new WriteDescriptorSet[Math.Max(1, buffers.Length)];
        fixed (DescriptorBufferInfo* pi = infos)
        fixed (BufferView* pv = views)
        fixed (WriteDescriptorSet* pw = writes)
        {
            for (int i = 0; i < buffers.Length; i++)
            {
                pw[i] = new WriteDescriptorSet
                {
                    SType = StructureType.WriteDescriptorSet,
                    DstSet = set,
                    DstBinding = (uint)i,
                    DescriptorCount = 1,
                    DescriptorType = DescriptorTypeOf(_kinds[i]),
                };
                if (_kinds[i] == BindingKind.UniformTexelBuffer)
                {
                    pv[i] = CreateTexelView(buffers[i]);
                    pw[i].PTexelBufferView = pv + i;
                }
                else
                {
                    long range = DescriptorRange(buffers[i]);
                    pi[i] = new DescriptorBufferInfo { Buffer = buffers[i].Buffer.Handle, Offset = (ulong)buffers[i].Offset, Range = (ulong)range };
                    pw[i].PBufferInfo = pi + i;
                }
            }
            if (buffers.Length > 0)
                vk.UpdateDescriptorSets(_device.Device, (uint)buffers.Length, pw, 0, null);
        }
        return new KernelBinding(this, set, buffers);
    }

    /// <summary>Bytes per texel of a <see cref="BindingKind.UniformTexelBuffer"/> view (R32G32B32A32_UINT).</summary>
    public const long TexelBytes = 16;

    private static DescriptorType DescriptorTypeOf(BindingKind kind) => kind switch
    {
        BindingKind.UniformBuffer => DescriptorType.UniformBuffer,
        BindingKind.UniformTexelBuffer => DescriptorType.UniformTexelBuffer,
        _ => DescriptorType.StorageBuffer,
    };

    /// <summary>A R32G32B32A32_UINT view over the range rounded up to whole texels; destroyed with the kernel.</summary>
    private BufferView CreateTexelView(BufferRange b)
    {
        var ci = new BufferViewCreateInfo
        {
            SType = StructureType.BufferViewCreateInfo,
            Buffer = b.Buffer.Handle,
            Format = Format.R32G32B32A32Uint,
            Offset = (ulong)b.Offset,
            Range = (ulong)((b.Size + TexelBytes - 1) / TexelBytes * TexelBytes),
        };
        VkUtil.Check(_device.Vk.CreateBufferView(_device.Device, &ci, null, out BufferView view), $"vkCreateBufferView ({ShaderName}, '{b.Buffer.DebugName}')");
        VkUtil.Created();
        lock (_lock) _views.Add(view);
        return view;
    }

    /// <summary>The range rounded up to whole 32-bit words where the buffer (and the device limit) allows.</summary>
    private long DescriptorRange(BufferRange b)
    {
        long rounded = (b.Size + 3) & ~3L;
        return rounded <= b.Buffer.AllocatedBytes - b.Offset && (ulong)rounded <= _device.Info.MaxStorageBufferRange ? rounded : b.Size;
    }

    private DescriptorSet AllocateSet()
    {
        lock (_lock)
        {
            Vk vk = _device.Vk;
            DescriptorSetLayout layout = SetLayout;
            if (_pools.Count > 0)
            {
                var ai = new DescriptorSetAllocateInfo
                {
                    SType = StructureType.DescriptorSetAllocateInfo,
                    DescriptorPool = _pools[^1],
                    DescriptorSetCount = 1,
                    PSetLayouts = &layout,
                };
                DescriptorSet set;
                Result r = vk.AllocateDescriptorSets(_device.Device, &ai, &set);
                if (r == Result.Success)
                    return set;
                if (r is not (Result.ErrorOutOfPoolMemory or Result.ErrorFragmentedPool))
                    VkUtil.Check(r, "vkAllocateDescriptorSets");
            }
            var sizes = stackalloc DescriptorPoolSize[3];
            uint sizeCount = 0;
            foreach (BindingKind kind in new[] { BindingKind.StorageBuffer, BindingKind.UniformBuffer, BindingKind.UniformTexelBuffer })
            {
                uint count = (uint)_kinds.Count(k => k == kind);
                if (count > 0 || (kind == BindingKind.StorageBuffer && _kinds.Length == 0))
                    sizes[sizeCount++] = new DescriptorPoolSize { Type = DescriptorTypeOf(kind), DescriptorCount = SetsPerPool * Math.Max(1, count) };
            }
            var pci = new DescriptorPoolCreateInfo
            {
                SType = StructureType.DescriptorPoolCreateInfo,
                MaxSets = SetsPerPool,
                PoolSizeCount = sizeCount,
                PPoolSizes = sizes,
            };
            VkUtil.Check(vk.CreateDescriptorPool(_device.Device, &pci, null, out DescriptorPool pool), "vkCreateDescriptorPool");
            _pools.Add(pool);
            VkUtil.Created();
            var ai2 = new DescriptorSetAllocateInfo
            {
                SType = StructureType.DescriptorSetAllocateInfo,
                DescriptorPool = pool,
                DescriptorSetCount = 1,
                PSetLayouts = &layout,
            };
            DescriptorSet set2;
            VkUtil.Check(vk.AllocateDescriptorSets(_device.Device, &ai2, &set2), "vkAllocateDescriptorSets");
            return set2;
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Vk vk = _device.Vk;
        foreach (DescriptorPool pool in _pools)
        {
            vk.DestroyDescriptorPool(_device.Device, pool, null);
            VkUtil.Destroyed();
        }
        _pools.Clear();
        foreach (BufferView view in _views)
        {
            vk.DestroyBufferView(_device.Device, view, null);
            VkUtil.Destroyed();
        }
        _views.Clear();
        if (_pipeline != null)
        {
            // A pipeline still compiling is waited for, then destroyed; one that failed has nothing to destroy.
            try
            {
                Pipeline pipeline = _pipeline.GetAwaiter().GetResult();
                vk.DestroyPipeline(_device.Device, pipeline, null);
                VkUtil.Destroyed();
            }
#pragma warning disable CA1031 // whatever the compilation threw reached its callers through Pipeline or WaitForPipelines; Dispose must still free the rest
            catch (Exception)
            {
            }
#pragma warning restore CA1031
            _device.UntrackPipeline(_pipeline);
            _pipeline = null;
        }
        if (Layout.Handle != 0)
        {
            vk.DestroyPipelineLayout(_device.Device, Layout, null);
            VkUtil.Destroyed();
            Layout = default;
        }
        if (SetLayout.Handle != 0)
        {
            vk.DestroyDescriptorSetLayout(_device.Device, SetLayout, null);
            VkUtil.Destroyed();
            SetLayout = default;
        }
    }

    public override string ToString() => $"ComputeKernel '{ShaderName}'";
}

/// <summary>A descriptor set of one kernel with fixed buffers. Lives as long as its kernel.</summary>
public sealed class KernelBinding
{
    internal KernelBinding(ComputeKernel kernel, DescriptorSet set, BufferRange[] buffers)
    {
        Kernel = kernel;
        Set = set;
        Buffers = buffers;
    }

    public ComputeKernel Kernel { get; }
    internal DescriptorSet Set { get; }
    /// <summary>The bound ranges, by binding index.</summary>
    public IReadOnlyList<BufferRange> Buffers { get; }
}
