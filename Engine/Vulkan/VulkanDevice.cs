using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Silk.NET.Core.Native;
using Silk.NET.Vulkan;
using Tipo.Errors;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace Tipo.Vulkan;

/// <summary>
/// One Vulkan logical device with a single compute queue. Owns its own VkInstance (and, with
/// <c>TIPO_VALIDATION=1</c>, the Khronos validation layer and a debug messenger).
/// Children (buffers, kernels, sequences, queries) must be disposed before the device.
/// </summary>
public sealed unsafe class VulkanDevice : IDisposable
{
    private const string ValidationLayer = "VK_LAYER_KHRONOS_validation";
    private static readonly Lazy<Vk> s_api = new(LoadApi, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly ConcurrentQueue<string> s_messages = new();
    private static readonly DebugUtilsMessengerCallbackFunctionEXT s_callback = OnDebugMessage;

    private readonly object _queueLock = new();
    private readonly object _transferLock = new();
    private CommandSequence? _transfer;   // one-time transfers (staging copies, fills), made on first use
    private GpuBuffer? _staging;
    private bool _disposed;
    private long _allocatedBytes;
    private long _liveAllocations;

    internal Vk Vk { get; }
    internal Device Device { get; }
    internal PhysicalDevice PhysicalDevice { get; }
    internal Queue Queue { get; private set; }
    internal uint QueueFamily { get; }
    internal PhysicalDeviceMemoryProperties MemoryProperties { get; }
    internal bool ValidationEnabled { get; }
    /// <summary>Set when the timestamp counter has fewer than 64 valid bits.</summary>
    internal uint TimestampValidBits { get; }

    /// <summary>The device's properties and limits.</summary>
    public DeviceInfo Info { get; }

    private VulkanDevice(Vk vk, bool validation, PhysicalDeviceEntry entry)
    {
        Vk = vk;
        ValidationEnabled = validation;
        PhysicalDevice = entry.Handle;
        Info = entry.Info;
        QueueFamily = entry.QueueFamily;
        TimestampValidBits = entry.TimestampValidBits;
        vk.GetPhysicalDeviceMemoryProperties(entry.Handle, out PhysicalDeviceMemoryProperties memProps);
        MemoryProperties = memProps;
        Device = CreateLogicalDevice(vk, entry);
        vk.GetDeviceQueue(Device, QueueFamily, 0, out Queue queue);
        Queue = queue;
    }

    // ---------------------------------------------------------------- public API

    /// <summary>Lists every Vulkan physical device. Throws <see cref="VulkanUnavailableException"/> when there is no
    /// loader, no driver or no device.</summary>
    public static IReadOnlyList<DeviceInfo> EnumerateDevices()
    {
        Vk vk = Api;
        return QueryDevices(vk, SharedInstanceFor(vk, validation: false)).Select(e => e.Info).ToList();
    }

    // Devices come and go; instances stay. NVIDIA's driver (580.159.04, H200) fails vkCreateInstance with
    // ErrorIncompatibleDriver after a few dozen create/destroy cycles in one process, for good (seen in a fresh process
    // too: LifecycleTests.OpenUseDispose_50Times); other projects report the same driver misbehaving after ~11 cycles.
    // llvmpipe reads LP_NUM_THREADS when an instance enumerates its devices, so that setting is part of the key.
    private static readonly Dictionary<(bool Validation, string? LpNumThreads), Instance> s_instances = [];
    private static readonly object s_instancesLock = new();

    /// <summary>The VkInstance kept for the rest of the process for this validation setting and the current
    /// LP_NUM_THREADS (its debug messenger, when validating, lives as long; its callback is static).</summary>
    private static Instance SharedInstanceFor(Vk vk, bool validation)
    {
        var key = (validation, Environment.GetEnvironmentVariable(LpNumThreads));
        lock (s_instancesLock)
        {
            if (!s_instances.TryGetValue(key, out Instance instance))
                s_instances[key] = instance = CreateInstance(vk, validation);
            return instance;
        }
    }

    /// <summary>
    /// Opens a device. <paramref name="selector"/> is a device index or a case-insensitive substring of the name;
    /// null uses the environment variable <c>TIPO_DEVICE</c>, and when that is unset too the preference
    /// discrete GPU &gt; integrated GPU &gt; virtual GPU &gt; CPU.
    /// </summary>
    /// <param name="inlineCpuDriver">When the chosen device is llvmpipe (lavapipe) and the user has not set
    /// <c>LP_NUM_THREADS</c>, run its compute work on the submitting thread (<c>LP_NUM_THREADS=0</c>) instead of its thread
    /// pool: each dispatch then costs ~2.5 µs instead of ~25 µs, and models too small to gain from a second core run
    /// several times faster (see <c>LlamaModel.Load</c>). No effect on other drivers.</param>
    public static VulkanDevice Open(string? selector = null, bool inlineCpuDriver = false)
    {
        // llvmpipe reads LP_NUM_THREADS when the instance enumerates its devices: set it for this open only.
        bool setThreads = inlineCpuDriver && Environment.GetEnvironmentVariable(LpNumThreads) == null;
        lock (s_environmentLock)
        {
            if (setThreads) NativeEnvironment.Set(LpNumThreads, "0");
            try
            {
                VulkanDevice device = OpenCore(selector);
                device.CpuDriverInline = setThreads && device.Info.DriverName.Contains("llvmpipe", StringComparison.OrdinalIgnoreCase);
                return device;
            }
            finally
            {
                if (setThreads) NativeEnvironment.Unset(LpNumThreads);
            }
        }
    }

    private const string LpNumThreads = "LP_NUM_THREADS";
    private static readonly object s_environmentLock = new();

    /// <summary>True when this llvmpipe device was opened to run its work on the submitting thread (<c>inlineCpuDriver</c>).</summary>
    public bool CpuDriverInline { get; private set; }

    private static VulkanDevice OpenCore(string? selector)
    {
        Vk vk = Api;
        selector ??= Environment.GetEnvironmentVariable("TIPO_DEVICE");
        if (string.IsNullOrWhiteSpace(selector))
            selector = null;
        bool validation = Environment.GetEnvironmentVariable("TIPO_VALIDATION") == "1";
        List<PhysicalDeviceEntry> devices = QueryDevices(vk, SharedInstanceFor(vk, validation));
        PhysicalDeviceEntry chosen = Select(devices, selector);
        return new VulkanDevice(vk, validation, chosen);
    }

    /// <summary>Returns and clears every validation error/warning recorded so far (process-wide, thread-safe).</summary>
    public static IReadOnlyList<string> TakeValidationMessages()
    {
        var list = new List<string>();
        while (s_messages.TryDequeue(out string? m))
            list.Add(m);
        return list;
    }

    /// <summary>Number of Vulkan objects created by Tipo and not destroyed yet (process-wide; for leak tests).</summary>
    internal static long LiveObjectCount => VkUtil.LiveObjects;

    /// <summary>Bytes of device memory currently allocated with vkAllocateMemory on this device (every buffer, the
    /// staging buffer included): what was allocated minus what was freed. Thread-safe.</summary>
    public long AllocatedDeviceBytes => Interlocked.Read(ref _allocatedBytes);

    /// <summary>Number of vkAllocateMemory allocations on this device not freed yet. Thread-safe.</summary>
    public long LiveAllocations => Interlocked.Read(ref _liveAllocations);

    private readonly List<Task> _compiling = [];   // guarded by itself

    /// <summary>Notes a pipeline compilation started on a worker thread (ComputeKernel), for <see cref="WaitForPipelines"/>
    /// and <see cref="Dispose"/>.</summary>
    internal void TrackPipeline(Task compilation)
    {
        lock (_compiling)
        {
            // Forget the finished ones, so a device whose loader never waits does not keep them all.
            _compiling.RemoveAll(t => t.IsCompletedSuccessfully);
            _compiling.Add(compilation);
        }
    }

    /// <summary>Forgets a compilation its kernel has waited for (ComputeKernel.Dispose): its failure is no one else's.</summary>
    internal void UntrackPipeline(Task compilation)
    {
        lock (_compiling) _compiling.Remove(compilation);
    }

    private Task[] TrackedCompilations()
    {
        lock (_compiling) return [.. _compiling];
    }

    /// <summary>Waits for every pipeline compilation started so far on this device, all of them, then throws the first
    /// failure (a loader calls this once it has created its kernels, so that their errors surface where it builds them).</summary>
    public void WaitForPipelines()
    {
        Task[] all = TrackedCompilations();
        Task.WhenAny(Task.WhenAll(all)).Wait();   // all finished, failed or not
        lock (_compiling) _compiling.RemoveAll(t => t.IsCompletedSuccessfully);
        // A failed one stays tracked until its kernel is disposed; its exception, unwrapped, is the caller's.
        all.FirstOrDefault(t => t.IsFaulted || t.IsCanceled)?.GetAwaiter().GetResult();
    }

    /// <summary>Counts a successful vkAllocateMemory of <paramref name="bytes"/>.</summary>
    internal void CountAllocation(long bytes)
    {
        Interlocked.Add(ref _allocatedBytes, bytes);
        Interlocked.Increment(ref _liveAllocations);
    }

    /// <summary>Counts a vkFreeMemory of an allocation of <paramref name="bytes"/>.</summary>
    internal void CountFree(long bytes)
    {
        Interlocked.Add(ref _allocatedBytes, -bytes);
        Interlocked.Decrement(ref _liveAllocations);
    }

    /// <summary>Waits until the device is idle.</summary>
    public void WaitIdle()
    {
        lock (_queueLock)
            VkUtil.Check(Vk.DeviceWaitIdle(Device), "vkDeviceWaitIdle");
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        // A kernel disposed after its device would find its pipeline compiling against a destroyed device: wait for them.
        Task.WhenAny(Task.WhenAll(TrackedCompilations())).Wait();
        Vk.DeviceWaitIdle(Device);
        _staging?.Dispose();
        _staging = null;
        _transfer?.Dispose();
        _transfer = null;
        Vk.DestroyDevice(Device, null);
        VkUtil.Destroyed();
        // The instance is shared and stays (SharedInstanceFor).
    }

    public override string ToString() => $"{Info.Name} ({Info.KindText}, {Info.DriverName})";

    // ---------------------------------------------------------------- internals used by other classes

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Submits one command buffer and waits for it on <paramref name="fence"/> (which is reset first).</summary>
    internal void SubmitAndWait(CommandBuffer cmd, Fence fence)
    {
        ThrowIfDisposed();
        Fence f = fence;
        VkUtil.Check(Vk.ResetFences(Device, 1, &f), "vkResetFences");
        var submit = new SubmitInfo { SType = StructureType.SubmitInfo, CommandBufferCount = 1, PCommandBuffers = &cmd };
        lock (_queueLock)
            VkUtil.Check(Vk.QueueSubmit(Queue, 1, &submit, fence), "vkQueueSubmit");
        VkUtil.Check(Vk.WaitForFences(Device, 1, &f, true, ulong.MaxValue), "vkWaitForFences");
    }

    /// <summary>Finds a memory type allowed by <paramref name="typeBits"/> with all <paramref name="required"/> flags;
    /// -1 when none.</summary>
    internal int FindMemoryType(uint typeBits, MemoryPropertyFlags required)
    {
        PhysicalDeviceMemoryProperties mp = MemoryProperties;
        for (int i = 0; i < mp.MemoryTypeCount; i++)
        {
            if ((typeBits & (1u << i)) != 0 && (mp.MemoryTypes[i].PropertyFlags & required) == required)
                return i;
        }
        return -1;
    }

    /// <summary>Runs <paramref name="record"/> in a one-time command buffer and waits for it (serialized).</summary>
    internal void RunOneTime(Action<CommandBuffer> record)
    {
        lock (_transferLock)
        {
            ThrowIfDisposed();
            _transfer ??= new CommandSequence(this);
            _transfer.Begin();
            record(_transfer.CommandBuffer);
            _transfer.End();
            _transfer.Submit();
        }
    }

    /// <summary>Size of the staging buffer used for uploads/downloads on devices without unified memory.</summary>
    internal const long StagingSize = 32L << 20;

    /// <summary>Lock that serializes host transfers (staging buffer and one-time command buffer).</summary>
    internal object TransferLock => _transferLock;

    /// <summary>The staging buffer (host-visible); only use it while holding <see cref="TransferLock"/>.</summary>
    internal GpuBuffer Staging
    {
        get
        {
            ThrowIfDisposed();
            return _staging ??= new GpuBuffer(this, StagingSize, "staging", GpuBuffer.Placement.HostStaging);
        }
    }

    // ---------------------------------------------------------------- instance / device creation

    private static Vk Api => s_api.Value;

    private static Vk LoadApi()
    {
        try
        {
            Vk vk = Vk.GetApi();
            uint version = 0;
            vk.EnumerateInstanceVersion(ref version); // forces the loader to be resolved
            return vk;
        }
        catch (Exception e) when (e is not TipoException)
        {
            throw new VulkanUnavailableException(
                "the Vulkan loader (libvulkan.so.1 / vulkan-1.dll) could not be loaded: install it (Debian: libvulkan1) " +
                "and a Vulkan driver (Debian: mesa-vulkan-drivers, or your GPU vendor's driver). " + e.Message, e);
        }
    }

    /// <summary>Creates a VkInstance (with the validation layer and a debug messenger when asked): see SharedInstanceFor.</summary>
    private static Instance CreateInstance(Vk vk, bool validation)
    {
        uint loaderVersion = Vk.MakeVersion(1, 1, 0);
        vk.EnumerateInstanceVersion(ref loaderVersion);
        uint apiVersion = loaderVersion >= Vk.MakeVersion(1, 3, 0) ? Vk.MakeVersion(1, 3, 0) : Vk.MakeVersion(1, 2, 0);

        var layers = new List<string>();
        var extensions = new List<string>();
        if (validation)
        {
            if (!InstanceLayers(vk).Contains(ValidationLayer))
                throw new TipoException(
                    $"TIPO_VALIDATION=1 needs the Vulkan layer {ValidationLayer}, which is not installed: install the Debian package vulkan-validationlayers (or the Vulkan SDK), or unset TIPO_VALIDATION.");
            layers.Add(ValidationLayer);
            extensions.Add("VK_EXT_debug_utils");
        }
        HashSet<string> available = InstanceExtensions(vk);
        bool portability = available.Contains("VK_KHR_portability_enumeration");
        if (portability)
            extensions.Add("VK_KHR_portability_enumeration");

        byte* appName = (byte*)SilkMarshal.StringToPtr("tipo");
        byte** layerNames = VkUtil.ToUtf8Array(layers);
        byte** extNames = VkUtil.ToUtf8Array(extensions);
        try
        {
            var app = new ApplicationInfo
            {
                SType = StructureType.ApplicationInfo,
                PApplicationName = appName,
                ApplicationVersion = 1,
                PEngineName = appName,
                EngineVersion = 1,
                ApiVersion = apiVersion,
            };
            DebugUtilsMessengerCreateInfoEXT messengerInfo = MessengerCreateInfo();
            var ci = new InstanceCreateInfo
            {
                SType = StructureType.InstanceCreateInfo,
                PApplicationInfo = &app,
                EnabledLayerCount = (uint)layers.Count,
                PpEnabledLayerNames = layerNames,
                EnabledExtensionCount = (uint)extensions.Count,
                PpEnabledExtensionNames = extNames,
                Flags = portability ? InstanceCreateFlags.EnumeratePortabilityBitKhr : 0,
                PNext = validation ? &messengerInfo : null,
            };
            Result r = vk.CreateInstance(&ci, null, out Instance instance);
            if (r == Result.ErrorIncompatibleDriver)
                throw new VulkanUnavailableException(
                    "no Vulkan driver was found (vkCreateInstance: ErrorIncompatibleDriver). Install a GPU driver or Mesa (Debian: mesa-vulkan-drivers); check VK_ICD_FILENAMES / VK_DRIVER_FILES if set.");
            VkUtil.Check(r, "vkCreateInstance");
            // Not counted in LiveObjectCount: the instance and its messenger live for the process (SharedInstanceFor).
            if (validation)
            {
                DebugUtils? ext = DebugUtils.Load(vk, instance);
                if (ext == null)
                {
                    vk.DestroyInstance(instance, null);
                    throw new TipoException("VK_EXT_debug_utils is not available although validation was requested.");
                }
                VkUtil.Check(ext.CreateDebugUtilsMessenger(instance, &messengerInfo, null, out _), "vkCreateDebugUtilsMessengerEXT");
            }
            return instance;
        }
        finally
        {
            SilkMarshal.Free((nint)appName);
            VkUtil.FreeStrings(layerNames, layers.Count);
            VkUtil.FreeStrings(extNames, extensions.Count);
        }
    }

    private static DebugUtilsMessengerCreateInfoEXT MessengerCreateInfo() => new()
    {
        SType = StructureType.DebugUtilsMessengerCreateInfoExt,
        MessageSeverity = DebugUtilsMessageSeverityFlagsEXT.WarningBitExt | DebugUtilsMessageSeverityFlagsEXT.ErrorBitExt,
        MessageType = DebugUtilsMessageTypeFlagsEXT.GeneralBitExt | DebugUtilsMessageTypeFlagsEXT.ValidationBitExt |
                      DebugUtilsMessageTypeFlagsEXT.PerformanceBitExt,
        PfnUserCallback = new PfnDebugUtilsMessengerCallbackEXT(s_callback),
    };

    private static uint OnDebugMessage(DebugUtilsMessageSeverityFlagsEXT severity, DebugUtilsMessageTypeFlagsEXT types,
        DebugUtilsMessengerCallbackDataEXT* data, void* user)
    {
        string text = data == null ? "(no data)" : VkUtil.FromUtf8(data->PMessage);
        string level = (severity & DebugUtilsMessageSeverityFlagsEXT.ErrorBitExt) != 0 ? "error" : "warning";
        s_messages.Enqueue($"[vulkan {level}] {text}");
        return Vk.False;
    }

    private static HashSet<string> InstanceLayers(Vk vk)
    {
        uint count = 0;
        vk.EnumerateInstanceLayerProperties(&count, null);
        var props = new LayerProperties[count];
        fixed (LayerProperties* p = props)
            vk.EnumerateInstanceLayerProperties(&count, p);
        var set = new HashSet<string>();
        foreach (LayerProperties lp in props)
            set.Add(VkUtil.FromUtf8(lp.LayerName));
        return set;
    }

    private static HashSet<string> InstanceExtensions(Vk vk)
    {
        uint count = 0;
        vk.EnumerateInstanceExtensionProperties((byte*)null, &count, null);
        var props = new ExtensionProperties[count];
        fixed (ExtensionProperties* p = props)
            vk.EnumerateInstanceExtensionProperties((byte*)null, &count, p);
        var set = new HashSet<string>();
        foreach (ExtensionProperties ep in props)
            set.Add(VkUtil.FromUtf8(ep.ExtensionName));
        return set;
    }

    private static HashSet<string> DeviceExtensions(Vk vk, PhysicalDevice pd)
    {
        uint count = 0;
        vk.EnumerateDeviceExtensionProperties(pd, (byte*)null, &count, null);
        var props = new ExtensionProperties[count];
        fixed (ExtensionProperties* p = props)
            vk.EnumerateDeviceExtensionProperties(pd, (byte*)null, &count, p);
        var set = new HashSet<string>();
        foreach (ExtensionProperties ep in props)
            set.Add(VkUtil.FromUtf8(ep.ExtensionName));
        return set;
    }

    private sealed record PhysicalDeviceEntry(PhysicalDevice Handle, DeviceInfo Info, uint QueueFamily, uint TimestampValidBits,
        uint RawApiVersion, bool PortabilitySubset);

    private static List<PhysicalDeviceEntry> QueryDevices(Vk vk, Instance instance)
    {
        uint count = 0;
        VkUtil.Check(vk.EnumeratePhysicalDevices(instance, &count, null), "vkEnumeratePhysicalDevices");
        if (count == 0)
            throw new VulkanUnavailableException(
                "the Vulkan loader found no device. Install a GPU driver or Mesa (Debian: mesa-vulkan-drivers); check VK_ICD_FILENAMES / VK_DRIVER_FILES if set.");
        var handles = new PhysicalDevice[count];
        fixed (PhysicalDevice* p = handles)
            VkUtil.Check(vk.EnumeratePhysicalDevices(instance, &count, p), "vkEnumeratePhysicalDevices");
        var list = new List<PhysicalDeviceEntry>();
        for (int i = 0; i < handles.Length; i++)
            list.Add(Describe(vk, handles[i], i));
        return list;
    }

    private static PhysicalDeviceEntry Describe(Vk vk, PhysicalDevice pd, int index)
    {
        vk.GetPhysicalDeviceProperties(pd, out PhysicalDeviceProperties props);
        bool v12 = props.ApiVersion >= Vk.MakeVersion(1, 2, 0);
        bool v13 = props.ApiVersion >= Vk.MakeVersion(1, 3, 0);

        var subgroup = new PhysicalDeviceSubgroupProperties { SType = StructureType.PhysicalDeviceSubgroupProperties };
        var driver = new PhysicalDeviceDriverProperties { SType = StructureType.PhysicalDeviceDriverProperties };
        if (v12)
            subgroup.PNext = &driver;
        var p13 = new PhysicalDeviceVulkan13Properties { SType = StructureType.PhysicalDeviceVulkan13Properties };
        if (v13)
            driver.PNext = &p13;
        // How many compute units run workgroups side by side, where the driver says (NVIDIA: SMs; AMD: CUs).
        var deviceExtensions = DeviceExtensions(vk, pd);
        var smBuiltins = new PhysicalDeviceShaderSMBuiltinsPropertiesNV { SType = StructureType.PhysicalDeviceShaderSMBuiltinsPropertiesNV };
        var amdCores = new PhysicalDeviceShaderCorePropertiesAMD { SType = StructureType.PhysicalDeviceShaderCorePropertiesAmd };
        bool hasSmBuiltins = deviceExtensions.Contains("VK_NV_shader_sm_builtins");
        bool hasAmdCores = deviceExtensions.Contains("VK_AMD_shader_core_properties");
        if (hasSmBuiltins) { smBuiltins.PNext = subgroup.PNext; subgroup.PNext = &smBuiltins; }
        if (hasAmdCores) { amdCores.PNext = subgroup.PNext; subgroup.PNext = &amdCores; }
        var props2 = new PhysicalDeviceProperties2 { SType = StructureType.PhysicalDeviceProperties2, PNext = &subgroup };
        vk.GetPhysicalDeviceProperties2(pd, &props2);
        uint computeUnits = hasSmBuiltins ? smBuiltins.ShaderSmcount
            : hasAmdCores ? amdCores.ShaderEngineCount * amdCores.ShaderArraysPerEngineCount * amdCores.ComputeUnitsPerShaderArray : 0;

        var f11 = new PhysicalDeviceVulkan11Features { SType = StructureType.PhysicalDeviceVulkan11Features };
        var f12 = new PhysicalDeviceVulkan12Features { SType = StructureType.PhysicalDeviceVulkan12Features };
        var f13 = new PhysicalDeviceVulkan13Features { SType = StructureType.PhysicalDeviceVulkan13Features };
        if (v12)
        {
            f11.PNext = &f12;
            if (v13)
                f12.PNext = &f13;
        }
        var features2 = new PhysicalDeviceFeatures2 { SType = StructureType.PhysicalDeviceFeatures2, PNext = v12 ? &f11 : null };
        var clock = new PhysicalDeviceShaderClockFeaturesKHR { SType = StructureType.PhysicalDeviceShaderClockFeaturesKhr };
        bool hasClock = v12 && deviceExtensions.Contains("VK_KHR_shader_clock");
        if (hasClock) { clock.PNext = features2.PNext; features2.PNext = &clock; }
        vk.GetPhysicalDeviceFeatures2(pd, &features2);

        uint qCount = 0;
        vk.GetPhysicalDeviceQueueFamilyProperties(pd, &qCount, null);
        var families = new QueueFamilyProperties[qCount];
        fixed (QueueFamilyProperties* p = families)
            vk.GetPhysicalDeviceQueueFamilyProperties(pd, &qCount, p);
        // Prefer a compute queue family that also has graphics (the "universal" one): it has timestamps everywhere.
        int family = -1;
        for (int i = 0; i < families.Length; i++)
        {
            if ((families[i].QueueFlags & QueueFlags.ComputeBit) == 0)
                continue;
            if (family < 0 || ((families[i].QueueFlags & QueueFlags.GraphicsBit) != 0 && (families[family].QueueFlags & QueueFlags.GraphicsBit) == 0))
                family = i;
        }
        uint tsBits = family >= 0 ? families[family].TimestampValidBits : 0;

        vk.GetPhysicalDeviceMemoryProperties(pd, out PhysicalDeviceMemoryProperties mp);
        var heaps = new List<MemoryHeapInfo>();
        int largestLocal = -1;
        for (int i = 0; i < mp.MemoryHeapCount; i++)
        {
            bool local = (mp.MemoryHeaps[i].Flags & MemoryHeapFlags.DeviceLocalBit) != 0;
            heaps.Add(new MemoryHeapInfo(mp.MemoryHeaps[i].Size, local));
            if (local && (largestLocal < 0 || mp.MemoryHeaps[i].Size > mp.MemoryHeaps[largestLocal].Size))
                largestLocal = i;
        }
        bool unified = false;
        const MemoryPropertyFlags unifiedFlags = MemoryPropertyFlags.DeviceLocalBit | MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit;
        for (int i = 0; i < mp.MemoryTypeCount; i++)
        {
            if ((mp.MemoryTypes[i].PropertyFlags & unifiedFlags) == unifiedFlags && mp.MemoryTypes[i].HeapIndex == largestLocal)
                unified = true;
        }

        PhysicalDeviceLimits limits = props.Limits;
        var kind = props.DeviceType switch
        {
            PhysicalDeviceType.DiscreteGpu => DeviceKind.DiscreteGpu,
            PhysicalDeviceType.IntegratedGpu => DeviceKind.IntegratedGpu,
            PhysicalDeviceType.VirtualGpu => DeviceKind.VirtualGpu,
            PhysicalDeviceType.Cpu => DeviceKind.Cpu,
            _ => DeviceKind.Other,
        };
        bool arithmetic = (subgroup.SupportedOperations & SubgroupFeatureFlags.ArithmeticBit) != 0 &&
                          (subgroup.SupportedStages & ShaderStageFlags.ComputeBit) != 0;
        var info = new DeviceInfo(
            Index: index,
            Name: VkUtil.FromUtf8(props.DeviceName),
            Kind: kind,
            DriverName: v12 ? VkUtil.FromUtf8(driver.DriverName) : "",
            DriverInfo: v12 ? VkUtil.FromUtf8(driver.DriverInfo) : "",
            ApiVersion: VkUtil.Version(props.ApiVersion),
            SubgroupSize: subgroup.SubgroupSize,
            SubgroupArithmetic: arithmetic,
            MaxStorageBufferRange: limits.MaxStorageBufferRange,
            MaxComputeSharedMemorySize: limits.MaxComputeSharedMemorySize,
            MaxComputeWorkGroupCount: [limits.MaxComputeWorkGroupCount[0], limits.MaxComputeWorkGroupCount[1], limits.MaxComputeWorkGroupCount[2]],
            MaxComputeWorkGroupInvocations: limits.MaxComputeWorkGroupInvocations,
            MinStorageBufferOffsetAlignment: limits.MinStorageBufferOffsetAlignment,
            Storage16Bit: f11.StorageBuffer16BitAccess,
            ShaderFloat16: f12.ShaderFloat16,
            Storage8Bit: f12.StorageBuffer8BitAccess,
            ShaderInt8: f12.ShaderInt8,
            SubgroupSizeControl: f13.SubgroupSizeControl,
            UnifiedMemory: unified,
            MemoryHeaps: heaps,
            TimestampPeriodNs: limits.TimestampPeriod,
            TimestampsSupported: tsBits > 0 && limits.TimestampPeriod > 0)
        {
            Usable = v12 && family >= 0,
            MaxTexelBufferElements = limits.MaxTexelBufferElements,
            MinTexelBufferOffsetAlignment = Math.Max(1, limits.MinTexelBufferOffsetAlignment),
            MaxUniformBufferRange = limits.MaxUniformBufferRange,
            MinUniformBufferOffsetAlignment = Math.Max(1, limits.MinUniformBufferOffsetAlignment),
            MinSubgroupSize = v13 ? p13.MinSubgroupSize : 0,
            MaxSubgroupSize = v13 ? p13.MaxSubgroupSize : 0,
            SubgroupShuffle = (subgroup.SupportedOperations & SubgroupFeatureFlags.ShuffleBit) != 0 &&
                              (subgroup.SupportedStages & ShaderStageFlags.ComputeBit) != 0,
            SubgroupBallot = (subgroup.SupportedOperations & SubgroupFeatureFlags.BallotBit) != 0 &&
                             (subgroup.SupportedStages & ShaderStageFlags.ComputeBit) != 0,
            ComputeUnits = computeUnits,
            ShaderDeviceClock = hasClock && clock.ShaderDeviceClock,
        };
        bool portabilitySubset = deviceExtensions.Contains("VK_KHR_portability_subset");
        return new PhysicalDeviceEntry(pd, info, (uint)Math.Max(family, 0), tsBits, props.ApiVersion, portabilitySubset);
    }

    private static PhysicalDeviceEntry Select(List<PhysicalDeviceEntry> devices, string? selector)
    {
        string Listing() => string.Join("; ", devices.Select(d => $"{d.Info.Index}: {d.Info.Name} ({d.Info.KindText})"));
        if (selector != null)
        {
            PhysicalDeviceEntry? match = null;
            if (int.TryParse(selector, NumberStyles.Integer, CultureInfo.InvariantCulture, out int idx))
                match = devices.FirstOrDefault(d => d.Info.Index == idx);
            match ??= devices.FirstOrDefault(d => d.Info.Name.Contains(selector, StringComparison.OrdinalIgnoreCase));
            if (match == null)
                throw new DeviceNotFoundException($"no Vulkan device matches '{selector}' (from the device option or TIPO_DEVICE). Devices: {Listing()}");
            if (!match.Info.Usable)
                throw new DeviceNotFoundException($"Vulkan device '{match.Info.Name}' supports only Vulkan {match.Info.ApiVersion}; Tipo needs Vulkan 1.2 with a compute queue. Devices: {Listing()}");
            return match;
        }
        DeviceKind[] order = [DeviceKind.DiscreteGpu, DeviceKind.IntegratedGpu, DeviceKind.VirtualGpu, DeviceKind.Cpu, DeviceKind.Other];
        foreach (DeviceKind kind in order)
        {
            PhysicalDeviceEntry? d = devices.FirstOrDefault(x => x.Info.Usable && x.Info.Kind == kind);
            if (d != null)
                return d;
        }
        throw new DeviceNotFoundException($"no Vulkan device supports Vulkan 1.2 with a compute queue. Devices: {Listing()}");
    }

    private static Device CreateLogicalDevice(Vk vk, PhysicalDeviceEntry entry)
    {
        DeviceInfo info = entry.Info;
        bool v13 = entry.RawApiVersion >= Vk.MakeVersion(1, 3, 0);
        // Enable only what the device has; chain ONLY the Vulkan 1.1/1.2/1.3 feature structs.
        var f11 = new PhysicalDeviceVulkan11Features
        {
            SType = StructureType.PhysicalDeviceVulkan11Features,
            StorageBuffer16BitAccess = info.Storage16Bit,
        };
        var f12 = new PhysicalDeviceVulkan12Features
        {
            SType = StructureType.PhysicalDeviceVulkan12Features,
            ShaderFloat16 = info.ShaderFloat16,
            ShaderInt8 = info.ShaderInt8,
            StorageBuffer8BitAccess = info.Storage8Bit,
        };
        var f13 = new PhysicalDeviceVulkan13Features
        {
            SType = StructureType.PhysicalDeviceVulkan13Features,
            SubgroupSizeControl = info.SubgroupSizeControl,
        };
        f11.PNext = &f12;
        if (v13)
            f12.PNext = &f13;
        var features2 = new PhysicalDeviceFeatures2 { SType = StructureType.PhysicalDeviceFeatures2, PNext = &f11 };

        float priority = 1f;
        var queueInfo = new DeviceQueueCreateInfo
        {
            SType = StructureType.DeviceQueueCreateInfo,
            QueueFamilyIndex = entry.QueueFamily,
            QueueCount = 1,
            PQueuePriorities = &priority,
        };
        var extensions = new List<string>();
        if (entry.PortabilitySubset)
            extensions.Add("VK_KHR_portability_subset");
        // The device clock, for the decode layer's phase timeline; not a core struct, so chained beside them.
        var clock = new PhysicalDeviceShaderClockFeaturesKHR { SType = StructureType.PhysicalDeviceShaderClockFeaturesKhr, ShaderDeviceClock = true };
        if (info.ShaderDeviceClock)
        {
            extensions.Add("VK_KHR_shader_clock");
            clock.PNext = features2.PNext;
            features2.PNext = &clock;
        }
        byte** extNames = VkUtil.ToUtf8Array(extensions);
        try
        {
            var ci = new DeviceCreateInfo
            {
                SType = StructureType.DeviceCreateInfo,
                PNext = &features2,
                QueueCreateInfoCount = 1,
                PQueueCreateInfos = &queueInfo,
                EnabledExtensionCount = (uint)extensions.Count,
                PpEnabledExtensionNames = extNames,
            };
            VkUtil.Check(vk.CreateDevice(entry.Handle, &ci, null, out Device device), $"vkCreateDevice ({info.Name})");
            VkUtil.Created();
            return device;
        }
        finally
        {
            VkUtil.FreeStrings(extNames, extensions.Count);
        }
    }

    internal static void CopyCommand(Vk vk, CommandBuffer cmd, VkBuffer src, long srcOffset, VkBuffer dst, long dstOffset, long bytes)
    {
        var region = new BufferCopy { SrcOffset = (ulong)srcOffset, DstOffset = (ulong)dstOffset, Size = (ulong)bytes };
        vk.CmdCopyBuffer(cmd, src, dst, 1, &region);
    }

    static VulkanDevice() => GC.KeepAlive(s_callback);

    internal static string DescribeMemory(long bytes) => bytes >= 1 << 20
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.0} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes");

}

/// <summary>The process environment as native code (the Vulkan drivers) sees it; .NET's own copy does not reach them.</summary>
internal static partial class NativeEnvironment
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int UnsetEnv(string name);

    public static void Set(string name, string value)
    {
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(name, value);
        else _ = SetEnv(name, value, 1);
    }

    public static void Unset(string name)
    {
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(name, null);
        else _ = UnsetEnv(name);
    }
}

/// <summary>vkCreateDebugUtilsMessengerEXT, loaded from an instance. Messengers live as long as their instance, which is
/// the process (VulkanDevice.SharedInstanceFor), so there is nothing to destroy.</summary>
internal sealed unsafe class DebugUtils
{
    private readonly delegate* unmanaged<Instance, DebugUtilsMessengerCreateInfoEXT*, AllocationCallbacks*, DebugUtilsMessengerEXT*, Result> _create;

    private DebugUtils(nint create) =>
        _create = (delegate* unmanaged<Instance, DebugUtilsMessengerCreateInfoEXT*, AllocationCallbacks*, DebugUtilsMessengerEXT*, Result>)create;

    internal static DebugUtils? Load(Vk vk, Instance instance)
    {
        nint create = (nint)vk.GetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT").Handle;
        return create == 0 ? null : new DebugUtils(create);
    }

    internal Result CreateDebugUtilsMessenger(Instance instance, DebugUtilsMessengerCreateInfoEXT* info, AllocationCallbacks* alloc, out DebugUtilsMessengerEXT messenger)
    {
        DebugUtilsMessengerEXT m;
        Result r = _create(instance, info, alloc, &m);
        messenger = m;
        return r;
    }
}
