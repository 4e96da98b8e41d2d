using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tipo.Tests.Inference;

/// <summary><c>tipo logits</c>, <c>tipo generate</c> and <c>tipo bench</c> as a user runs them, on stories260K.</summary>
public class InferenceCommandTests
{
    [TestCase("prefill")]
    [TestCase("decode")]
    public void LogitsCommandWritesTheReferenceRows(string mode)
    {
        var reference = Reference.Load("stories260K-greedy");
        int[] ids = reference.TeacherForcedIds.Take(12).ToArray();
        string output = Path.Combine(Path.GetTempPath(), $"tipo-logits-{Guid.NewGuid():N}.f32");
        try
        {
            var (code, _, err) = TipoCli.Run(["logits", "--model", TestData.Shared("models/stories260K.gguf"),
                "--ids", string.Join(",", ids), "--out", output, "--mode", mode, "--kv", "f32", "--ctx", "512"]);
            Assert.That(code, Is.Zero, err);
            float[] logits = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
            Assert.That(logits, Has.Length.EqualTo(ids.Length * reference.Vocab));
            var (worst, row, top1) = Compare.Rows(logits, reference.Logits, ids.Length, reference.Vocab);
            Assert.That(worst, Is.LessThanOrEqualTo(1e-6), $"row {row}");
            Assert.That(top1, Is.EqualTo(1.0));
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Test]
    public void GenerateCommandGreedyIdsMatchTheReference()
    {
        var reference = Reference.Load("stories260K-greedy");
        var (code, stdout, err) = TipoCli.Run(["generate", "--model", TestData.Shared("models/stories260K.gguf"),
            "-p", "Once upon a time", "-n", "24", "--temp", "0", "--ids", "--kv", "f32", "--ctx", "512"]);
        Assert.That(code, Is.Zero, err);
        int[] ids = JsonSerializer.Deserialize<int[]>(stdout.Trim())!;
        Assert.That(ids, Is.EqualTo(reference.Greedy.Take(24)));
        Assert.That(err, Does.Contain("seed"), "the seed used is reported");
    }

    [Test]
    public void GenerateCommandPrintsThePromptAndItsContinuation()
    {
        var reference = Reference.Load("stories260K-greedy");
        var (code, stdout, err) = TipoCli.Run(["generate", "--model", TestData.Shared("models/stories260K.gguf"),
            "-p", "Once upon a time", "-n", "40", "--temp", "0", "--kv", "f32", "--ctx", "512"]);
        Assert.That(code, Is.Zero, err);
        Assert.That(reference.Text, Does.StartWith(stdout.TrimEnd('\n')));
        Assert.That(stdout.Length, Is.GreaterThan("Once upon a time".Length + 40));
    }

    [Test]
    public void BenchCommandPrintsJsonWithASampledDecodeTest()
    {
        var (code, stdout, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/stories260K.gguf"),
            "-p", "8", "-n", "4", "-r", "2", "--sample", "--json"]);
        Assert.That(code, Is.Zero, err);
        JsonArray tests = JsonNode.Parse(stdout)!.AsArray();
        long fileBytes = new FileInfo(TestData.Shared("models/stories260K.gguf")).Length;
        Assert.That((long)tests[0]!["model_size"]!, Is.InRange(fileBytes * 9 / 10, fileBytes), "model_size is the file's tensor bytes, as in llama-bench");
        Assert.That(tests.Select(t => ((int)t!["n_prompt"]!, (int)t!["n_gen"]!)), Is.EqualTo(new[] { (8, 0), (0, 4), (0, 4) }));
        Assert.That(tests.Select(t => (string)t!["test"]!), Is.EqualTo(new[] { "pp8", "tg4", "tg4 sampled" }), "the table's test names");
        foreach (JsonNode? t in tests)
        {
            Assert.That(t!["samples_ts"]!.AsArray(), Has.Count.EqualTo(2));
            Assert.That((double)t["avg_ts"]!, Is.GreaterThan(0));
        }
        Assert.That(tests[1]!["sampler_us_per_token"], Is.Null, "llama-bench's decode test feeds fixed tokens");
        Assert.That((double)tests[2]!["sampler_us_per_token"]!, Is.GreaterThan(0), "the sampled decode times its sampler");
        Assert.That((string)tests[0]!["driver_info"]!, Is.Not.Empty, "the driver, whose version picks kernels");
        Assert.That((string)tests[0]!["matmuls"]!, Does.Match("^(rows-per-lane|split-k) matmuls"));
    }

    [Test]
    public void BenchCommandRunsEachTestAtEachDepth()
    {
        var (code, stdout, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/stories260K.gguf"),
            "-p", "8", "-n", "4", "-d", "0,16", "-r", "1", "--json"]);
        Assert.That(code, Is.Zero, err);
        JsonArray tests = JsonNode.Parse(stdout)!.AsArray();
        Assert.That(tests.Select(t => ((int)t!["n_prompt"]!, (int)t!["n_gen"]!, (int)t!["n_depth"]!)),
            Is.EqualTo(new[] { (8, 0, 0), (0, 4, 0), (8, 0, 16), (0, 4, 16) }));
        Assert.That(tests.Select(t => (double)t!["avg_ts"]!), Is.All.GreaterThan(0));

        (code, stdout, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/stories260K.gguf"), "-p", "8", "-n", "4", "-d", "16", "-r", "1"]);
        Assert.That(code, Is.Zero, err);
        Assert.That(stdout, Does.Contain("| pp8 @ d16 |").And.Contain("| tg4 @ d16 |"), "llama-bench's test names");
        Assert.That(stdout, Does.Match(@"(?m)^driver: \S.*; (rows-per-lane|split-k) matmuls"),
            "the driver and the kernels chosen for it, after the table");
        // --profile decodes a step at depth + max(1, n / 2): the context holds it even without a decode test.
        (code, stdout, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/stories260K.gguf"), "-p", "1", "-n", "0", "-d", "5", "-r", "1", "--profile"]);
        Assert.That(code, Is.Zero, err);
        Assert.That(stdout, Does.Contain("decode step at position 6"));
        // With one dispatch per layer the profile also times the kernel's phases (or says why it cannot).
        (code, stdout, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/tipo-tiny-f16.gguf"), "-p", "1", "-n", "0", "-d", "5", "-r", "1", "--profile"],
            new Dictionary<string, string?> { ["TIPO_DECODE_WORKGROUPS"] = "1", ["TIPO_KERNELS"] = "gpu" });
        Assert.That(code, Is.Zero, err);
        Assert.That(stdout, Does.Contain("decode: one dispatch per layer (1 workgroup of").And.Contain("decode layer phases"));
    }

    [Test]
    public void BenchRooflinePrintsDecodeAndPrefillAsSharesOfTheDevicesLimitsAndTheDispatchCost()
    {
        var (code, stdout, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/stories260K.gguf"), "-p", "8", "-n", "4", "-r", "1", "--roofline"]);
        Assert.That(code, Is.Zero, err);
        Assert.That(stdout, Does.Contain("tg4: ").And.Contain("% of the roofline"));
        Assert.That(stdout, Does.Match(@"device arithmetic peak \(independent fma chains, no memory traffic\): \d+\.\d GFLOP/s"));
        Assert.That(stdout, Does.Match(@"pp8: \d+\.\d GFLOP/s \(\d+\.\d MFLOP a token\), \d+\.\d% of the arithmetic peak"));
        Assert.That(stdout, Does.Match(@"dependent dispatches \(a barrier between each, \d+ in a row\): \d+\.\d\d µs each with 1 workgroup"));

        (code, stdout, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/stories260K.gguf"), "-p", "8", "-n", "4", "-r", "1", "--roofline", "--json"]);
        Assert.That(code, Is.Zero, err);
        JsonArray tests = JsonNode.Parse(stdout)!.AsArray();
        Assert.That(tests.Select(t => (double)t!["dispatch_us"]!), Is.All.GreaterThan(0));
        Assert.That(tests.Select(t => (double)t!["roofline_gbps"]!), Is.All.GreaterThan(0));
        Assert.That(tests.Select(t => (double)t!["peak_gflops"]!), Is.All.GreaterThan(0));
        Assert.That((double)tests[0]!["gflops"]!, Is.GreaterThan(0), "prefill's FLOP rate");
        Assert.That(tests[1]!["gflops"], Is.Null, "decode is timed against the bandwidth, not the arithmetic peak");
    }

    [TestCase("-1", "-d must not be negative")]
    [TestCase("8,x", "-d must be comma-separated integers")]
    [TestCase("2147483647", "more than a context can hold")]
    public void BenchCommandRejectsABadDepth(string depth, string message)
    {
        var (code, _, err) = TipoCli.Run(["bench", "--model", TestData.Shared("models/stories260K.gguf"), "-d", depth]);
        Assert.That(code, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain(message));
    }
}
