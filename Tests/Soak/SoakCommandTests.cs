using System.Text.Json;

namespace Tipo.Tests.Soak;

/// <summary><c>tipo soak</c> as a process: a CI-sized run on ../shared/models/tipo-tiny, and its command-line checks.</summary>
public class SoakCommandTests
{
    [Test]
    public void TwentyRequestsKeepDeviceMemoryExactlyFlat()
    {
        var (code, stdout, stderr) = TipoCli.Run(
            ["soak", "--model", TestData.Shared("models/tipo-tiny"), "--requests", "20", "--every", "10", "--json"], timeoutSeconds: 600);
        TestContext.Out.WriteLine(stderr);
        using var json = JsonDocument.Parse(stdout);
        JsonElement root = json.RootElement;
        // Host memory is judged too (exit 1 when not flat), but 10 requests of warm-up are too few for RSS to settle
        // (tiered JIT, allocator arenas): over 20 requests only the exit code's agreement with the verdict is checked.
        // The 1,000-request soak (README) is the host memory check.
        Assert.That(code, Is.EqualTo(root.GetProperty("flat").GetBoolean() ? 0 : 1), stderr);
        var samples = root.GetProperty("samples").EnumerateArray().ToList();
        Assert.That(samples.Select(s => s.GetProperty("requests").GetInt32()), Is.EqualTo(new[] { 0, 10, 20 }));
        long gpu10 = samples[1].GetProperty("gpu_bytes").GetInt64(), gpu20 = samples[2].GetProperty("gpu_bytes").GetInt64();
        Assert.Multiple(() =>
        {
            Assert.That(gpu10, Is.GreaterThan(0), "the model's weights are counted");
            Assert.That(gpu20, Is.EqualTo(gpu10), "GPU bytes after the warm-up and at the end");
            Assert.That(samples[2].GetProperty("gpu_allocations").GetInt64(), Is.EqualTo(samples[1].GetProperty("gpu_allocations").GetInt64()));
            Assert.That(samples.All(s => s.GetProperty("rss_bytes").GetInt64() > 0 && s.GetProperty("gc_heap_bytes").GetInt64() > 0));
            Assert.That(root.GetProperty("gpu_flat").GetBoolean(), Is.True);
            Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("tipo-tiny"));
            Assert.That(stderr, Does.Contain("| requests | host RSS MiB |").And.Contain("GPU memory: " + gpu10 + " bytes"));
        });
    }

    [TestCase("--requests", "5", "--every", "5")]
    [TestCase("--requests", "5", "--every", "0")]
    [TestCase("--requests", "1", "--every", "1")]
    public void AWarmUpWithNothingAfterItIsAUsageError(params string[] args)
    {
        var (code, _, stderr) = TipoCli.Run(["soak", "--model", "no-such-model.gguf", .. args]);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("--"));
    }

    [Test]
    public void WithoutAModelItIsAUsageError()
    {
        var (code, _, stderr) = TipoCli.Run("soak");
        Assert.That(code, Is.EqualTo(2), stderr);
    }
}
