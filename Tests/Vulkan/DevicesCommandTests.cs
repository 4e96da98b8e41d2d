using Tipo.Errors;
using Tipo.Vulkan;

namespace Tipo.Tests.Vulkan;

/// <summary><c>tipo devices</c>, run as a child process.</summary>
public class DevicesCommandTests
{
    private static (int ExitCode, string Out, string Err) RunTipo(string args, IDictionary<string, string>? env = null)
    {
        var vars = new Dictionary<string, string?> { ["TIPO_VALIDATION"] = null };
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
            vars[k] = v;
        return TipoCli.Run(args.Split(' '), vars, timeoutSeconds: 60);
    }

    [Test]
    public void Devices_ListsDevices()
    {
        (int code, string stdout, string stderr) = RunTipo("devices");
        Assert.That(code, Is.EqualTo(0), stderr);
        string name = VulkanDevice.EnumerateDevices()[0].Name;
        Assert.That(stdout, Does.Contain(name).And.Contain("subgroup size").And.Contain("maxStorageBufferRange").And.Contain("16-bit storage"));
    }

    [Test]
    public void Devices_NoDriver_ExitsWithClearError()
    {
        var env = new Dictionary<string, string> { ["VK_ICD_FILENAMES"] = "/nonexistent", ["VK_DRIVER_FILES"] = "/nonexistent" };
        (int code, string stdout, string stderr) = RunTipo("devices", env);
        Assert.That(code, Is.EqualTo(3), stdout + stderr);
        Assert.That(stderr, Does.Contain("tipo: error:").And.Contain("Vulkan").And.Contain("driver"));
        Assert.That(stderr, Does.Not.Contain("   at "), "no stack trace");
    }

    [Test]
    public void Open_UnknownIndex_ThrowsDeviceNotFound()
    {
        // (The loader reads VK_ICD_FILENAMES once per process, so "no driver" is checked through the CLI child process above.)
        Assert.Throws<DeviceNotFoundException>(() => VulkanDevice.Open("999"));
    }
}
