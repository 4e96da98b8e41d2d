using System.Diagnostics;
using Tipo.Errors;
using Tipo.Vulkan;

namespace Tipo.Tests.Vulkan;

/// <summary><c>tipo devices</c>, run as a child process.</summary>
public class DevicesCommandTests
{
    private static (int ExitCode, string Out, string Err) RunTipo(string args, IDictionary<string, string>? env = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "tipo.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (string a in args.Split(' '))
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("TIPO_VALIDATION");
        if (env != null)
            foreach ((string k, string v) in env)
                psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(60_000), Is.True, "tipo did not exit");
        return (p.ExitCode, stdout.Result, stderr.Result);
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
