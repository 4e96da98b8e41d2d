using System.Reflection;
using Tipo.Errors;
using Tipo.Tests.Vulkan;
using Tipo.Vulkan;

namespace Tipo.Tests.Failures;

/// <summary>
/// The named failures and their documented exit codes, each made to happen with the real <c>tipo</c> CLI as a child
/// process (<c>dotnet tipo.dll ...</c>, built next to the tests). Device lost cannot be provoked on demand here, so only
/// its mapping to exit code 7 is tested.
/// </summary>
public class NamedFailureTests
{
    private string _temp = "";

    [SetUp]
    public void SetUp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "tipo-failures-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void TearDown()
    {
        try
        {
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Stories => TestData.Shared("models/stories260K.gguf");

    internal static (int Code, string Out, string Err) Tipo(IDictionary<string, string?>? env, params string[] args)
    {
        return TipoCli.Run(args, env?.ToDictionary(), timeoutSeconds: 120);
    }

    private static void ExpectExit(int code, (int Code, string Out, string Err) r, params string[] fragments)
    {
        Assert.That(r.Code, Is.EqualTo(code), $"exit code; stderr: {r.Err}");
        Assert.That(r.Err, Does.StartWith("tipo: error: "), "one clear line on stderr");
        Assert.That(r.Err, Does.Not.Contain("   at "), "no stack trace");
        foreach (string f in fragments)
            Assert.That(r.Err, Does.Contain(f).IgnoreCase, "the message names the file, field or limit");
    }

    [Test]
    public void NoVulkanLoaderOrDriver_Exits3()
    {
        var r = Tipo(new Dictionary<string, string?> { ["VK_ICD_FILENAMES"] = "/nonexistent/icd.json", ["VK_DRIVER_FILES"] = "/nonexistent/icd.json" },
            "generate", "--model", Stories, "-p", "Once", "-n", "2");
        ExpectExit(3, r, "Vulkan", "VK_ICD_FILENAMES");
    }

    [Test]
    public void NoMatchingDevice_Exits3()
    {
        var r = Tipo(null, "generate", "--model", Stories, "-p", "Once", "-n", "2", "--device", "nosuchdevice");
        ExpectExit(3, r, "nosuchdevice", "Devices:");
    }

    [Test]
    public void ModelFileMissing_Exits4()
    {
        string missing = Path.Combine(_temp, "missing.gguf");
        ExpectExit(4, Tipo(null, "generate", "--model", missing, "-p", "Once", "-n", "2"), missing);
        ExpectExit(4, Tipo(null, "info", "--model", missing), missing);
    }

    [Test]
    public void ModelFileCorrupt_Exits4()
    {
        // The GGUF cut in the middle of its header, and one whose tensor count is impossible.
        byte[] bytes = File.ReadAllBytes(Stories);
        string truncated = Path.Combine(_temp, "truncated.gguf");
        File.WriteAllBytes(truncated, bytes[..1000]);
        ExpectExit(4, Tipo(null, "generate", "--model", truncated, "-p", "Once", "-n", "2"), truncated, "truncated");

        string huge = Path.Combine(_temp, "huge-count.gguf");
        byte[] copy = (byte[])bytes.Clone();
        BitConverter.TryWriteBytes(copy.AsSpan(8, 8), ulong.MaxValue);
        File.WriteAllBytes(huge, copy);
        ExpectExit(4, Tipo(null, "info", "--model", huge), huge, "tensor count");
    }

    [Test]
    public void ModelFileUnreadable_Exits4()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("file modes are POSIX");
            return;
        }
        string path = Path.Combine(_temp, "unreadable.gguf");
        File.Copy(Stories, path);
        File.SetUnixFileMode(path, UnixFileMode.None);
        try
        {
            using (File.OpenRead(path))
                Assert.Ignore("running as root: a mode-000 file is still readable");
        }
        catch (UnauthorizedAccessException)
        {
        }
        ExpectExit(4, Tipo(null, "generate", "--model", path, "-p", "Once", "-n", "2"), path);
    }

    [Test]
    public void ModelPathIsADirectoryWithoutAModel_Exits4()
    {
        // Runs as root too (where a mode-000 file is still readable): a path that cannot be read as a model.
        string dir = Path.Combine(_temp, "not-a-model.gguf");
        Directory.CreateDirectory(dir);
        ExpectExit(4, Tipo(null, "generate", "--model", dir, "-p", "Once", "-n", "2"), dir, "config.json");
    }

    [Test]
    public void ContextOverflow_Exits5()
    {
        var r = Tipo(null, "generate", "--model", Stories, "-p", "Once upon a time", "-n", "5000", "--ctx", "64");
        ExpectExit(5, r, "context length 64", "5000");
    }

    [Test]
    public void KvCacheLargerThanTheHeap_Exits6()
    {
        var r = Tipo(null, "generate", "--model", Stories, "-p", "Once", "-n", "2", "--ctx", "2000000000");
        ExpectExit(6, r, "KV cache", "2000000000", "largest memory heap");
    }

    [Test]
    public void DownloadFailure_Exits9()
    {
        string cache = Path.Combine(_temp, "hf-cache");
        Directory.CreateDirectory(cache);
        var r = Tipo(new Dictionary<string, string?> { ["HF_HUB_OFFLINE"] = "1", ["HF_HUB_CACHE"] = cache, ["HF_HOME"] = Path.Combine(_temp, "hf-home"), ["TIPO_CACHE"] = Path.Combine(_temp, "tipo") },
            "download", "SOME/REPO");
        ExpectExit(9, r, "SOME/REPO", "HF_HUB_OFFLINE");
    }

    // ---- exit code mapping (device lost cannot be provoked here) ----

    private static int ExitCodeFor(Exception e)
    {
        var type = Assembly.Load("tipo").GetType("Tipo.Cli.ExitCodes", throwOnError: true)!;
        var method = type.GetMethod("For", BindingFlags.Public | BindingFlags.Static)!;
        return (int)method.Invoke(null, [e])!;
    }

    [Test]
    public void DeviceLost_MapsTo7()
    {
        // A lost device cannot be made to happen on demand with lavapipe; VkUtil turns VK_ERROR_DEVICE_LOST into this.
        Assert.That(ExitCodeFor(new DeviceLostException("vkQueueSubmit failed: the Vulkan device was lost (ErrorDeviceLost)")), Is.EqualTo(7));
    }

    [Test]
    public void EveryNamedFailure_HasItsDocumentedExitCode()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ExitCodeFor(new VulkanUnavailableException("x")), Is.EqualTo(3));
            Assert.That(ExitCodeFor(new DeviceNotFoundException("x")), Is.EqualTo(3));
            Assert.That(ExitCodeFor(new ModelFormatException("f", "x")), Is.EqualTo(4));
            Assert.That(ExitCodeFor(new FileNotFoundException("x")), Is.EqualTo(4));
            Assert.That(ExitCodeFor(new UnauthorizedAccessException("x")), Is.EqualTo(4));
            Assert.That(ExitCodeFor(new ContextOverflowException("x")), Is.EqualTo(5));
            Assert.That(ExitCodeFor(new OutOfDeviceMemoryException("x")), Is.EqualTo(6));
            Assert.That(ExitCodeFor(new DeviceLostException("x")), Is.EqualTo(7));
            Assert.That(ExitCodeFor(new UnsupportedFeatureException("x")), Is.EqualTo(8));
            Assert.That(ExitCodeFor(new DownloadException("x")), Is.EqualTo(9));
            Assert.That(ExitCodeFor(new InvalidOperationException("x")), Is.EqualTo(1));
        });
    }
}

/// <summary>A buffer the device cannot hold fails with <see cref="OutOfDeviceMemoryException"/> (exit code 6), naming the buffer and size.</summary>
public class OutOfDeviceMemoryTests : GpuTest
{
    [Test]
    public void BufferLargerThanEveryHeap_IsOutOfDeviceMemory()
    {
        long heap = (long)Device.Info.MemoryHeaps.Max(h => h.Size);
        long size = Math.Max(heap * 4, 1L << 40);
        var e = Assert.Throws<OutOfDeviceMemoryException>(() => new GpuBuffer(Device, size, "too-big").Dispose())!;
        Assert.That(e.Message, Does.Contain("too-big").And.Contain(size.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void KvCacheLargerThanTheHeap_IsRefusedBeforeAllocating()
    {
        var e = Assert.Throws<OutOfDeviceMemoryException>(() => new Tipo.Inference.KvCache(Device, 4, int.MaxValue, 4096, Tipo.Inference.KvCacheType.F32).Dispose())!;
        Assert.That(e.Message, Does.Contain("largest memory heap").And.Contain(Device.Info.Name).And.Contain("--ctx"));
    }
}
