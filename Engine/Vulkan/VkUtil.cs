using System.Runtime.InteropServices;
using System.Text;
using Silk.NET.Vulkan;
using Tipo.Errors;

namespace Tipo.Vulkan;

/// <summary>Small helpers shared by the Vulkan wrappers.</summary>
internal static class VkUtil
{
    private static long s_liveObjects;

    /// <summary>Number of Vulkan objects (of any kind) created by Tipo and not yet destroyed, process-wide.</summary>
    internal static long LiveObjects => Interlocked.Read(ref s_liveObjects);

    internal static void Created(int n = 1) => Interlocked.Add(ref s_liveObjects, n);
    internal static void Destroyed(int n = 1) => Interlocked.Add(ref s_liveObjects, -n);

    /// <summary>Throws the matching Tipo exception when <paramref name="result"/> is not Success.</summary>
    internal static void Check(Result result, string what)
    {
        if (result == Result.Success)
            return;
        throw result switch
        {
            Result.ErrorOutOfDeviceMemory or Result.ErrorOutOfHostMemory =>
                new OutOfDeviceMemoryException($"{what} failed: {result}"),
            Result.ErrorDeviceLost => new DeviceLostException($"{what} failed: the Vulkan device was lost ({result})"),
            Result.ErrorIncompatibleDriver or Result.ErrorInitializationFailed =>
                new VulkanUnavailableException($"{what} failed: {result}. No usable Vulkan driver was found; install a GPU driver or Mesa (Debian: mesa-vulkan-drivers)."),
            _ => new TipoException($"{what} failed: {result}"),
        };
    }

    internal static unsafe string FromUtf8(byte* p) => p == null ? "" : Marshal.PtrToStringUTF8((nint)p) ?? "";

    /// <summary>Allocates a native array of NUL-terminated UTF-8 strings; free with <see cref="FreeStrings"/>.</summary>
    internal static unsafe byte** ToUtf8Array(IReadOnlyList<string> strings)
    {
        var arr = (byte**)Marshal.AllocHGlobal(Math.Max(1, strings.Count) * sizeof(nint));
        for (int i = 0; i < strings.Count; i++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(strings[i] + "\0");
            var p = (byte*)Marshal.AllocHGlobal(bytes.Length);
            bytes.CopyTo(new Span<byte>(p, bytes.Length));
            arr[i] = p;
        }
        return arr;
    }

    internal static unsafe void FreeStrings(byte** arr, int count)
    {
        for (int i = 0; i < count; i++)
            Marshal.FreeHGlobal((nint)arr[i]);
        Marshal.FreeHGlobal((nint)arr);
    }

    internal static string Version(uint v) => $"{v >> 22}.{(v >> 12) & 0x3FF}.{v & 0xFFF}";
}
