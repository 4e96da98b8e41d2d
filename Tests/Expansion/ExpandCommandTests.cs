using System.Diagnostics;
using System.Text.Json;

namespace Tipo.Tests.Expansion;

/// <summary><c>tipo expand</c> run as a process: <c>--dry-run</c> on KGen's reference requests, and the no-model message.</summary>
public class ExpandCommandTests
{
    private static (int ExitCode, string Stdout, string Stderr) RunCli(params string[] args) => RunCli(null, args);

    private static (int ExitCode, string Stdout, string Stderr) RunCli(Dictionary<string, string>? environment, params string[] args)
    {
        var env = new Dictionary<string, string?> { ["TIPO_TAG_LISTS"] = null };
        foreach (var (name, value) in environment ?? [])
            env[name] = value;
        return TipoCli.Run(args, env, timeoutSeconds: 60);
    }

    [Test]
    public void DryRun_ReproducesAllEightReferenceRequests()
    {
        string path = TestData.Shared("reference/tipo-prompts.json");
        string lists = ExpansionTestData.TagListDirectory;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        foreach (JsonElement c in doc.RootElement.EnumerateArray())
        {
            var (code, stdout, stderr) = RunCli("expand", c.GetProperty("tags").GetString()!, "--nl", c.GetProperty("nl").GetString()!,
                "--width", c.GetProperty("width").GetInt32().ToString(), "--height", c.GetProperty("height").GetInt32().ToString(),
                "--tag-length", c.GetProperty("tag_length").GetString()!, "--nl-length", c.GetProperty("nl_length").GetString()!,
                "--format", c.GetProperty("format").GetString()!, "--tag-lists", lists, "--dry-run");
            Assert.That(code, Is.EqualTo(0), stderr);
            using var actual = JsonDocument.Parse(stdout);
            foreach (string key in new[] { "categories", "operations", "first_prompt" })
            {
                Assert.That(Canonical(actual.RootElement.GetProperty(key)), Is.EqualTo(Canonical(c.GetProperty(key))),
                    $"{key} of request '{c.GetProperty("tags").GetString()}' / '{c.GetProperty("nl").GetString()}'");
            }
        }
    }

    /// <summary>The tag lists load beside the model, but a directory that does not exist is refused before anything loads
    /// (usage error, no model needed), for --tag-lists and $TIPO_TAG_LISTS alike.</summary>
    [Test]
    public void MissingTagListDirectory_IsAUsageError()
    {
        string missing = Path.Combine(Path.GetTempPath(), "tipo-no-such-tag-lists-" + Environment.ProcessId);
        var (code, _, stderr) = RunCli(new Dictionary<string, string>(), "expand", "1girl", "--model", "/nonexistent-model.gguf", "--tag-lists", missing);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("tag-list directory not found").And.Contain(missing));
        (code, _, stderr) = RunCli(new Dictionary<string, string> { ["TIPO_TAG_LISTS"] = missing }, "expand", "1girl", "--dry-run");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("tag-list directory not found"));
        // Without --dry-run too: refused before the model is looked for (which would say the model is missing, exit 4).
        (code, _, stderr) = RunCli(new Dictionary<string, string> { ["TIPO_TAG_LISTS"] = missing }, "expand", "1girl", "--model", "/nonexistent-model.gguf");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("tag-list directory not found"));
    }

    /// <summary>Concurrent loads of one directory read it once and share the result.</summary>
    [Test]
    public void TagLists_LoadedAtOnceFromSeveralThreads_AreReadOnce()
    {
        string dir = Path.Combine(Path.GetTempPath(), "tipo-tag-lists-once-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllLines(Path.Combine(dir, "characters.txt"), Enumerable.Range(0, 200_000).Select(i => $"character_{i}"));
            using var start = new ManualResetEventSlim();
            var loads = Enumerable.Range(0, 4).Select(_ => Task.Run(() => { start.Wait(); return Tipo.Expansion.TagLists.Load(dir); })).ToArray();
            start.Set();
            Task.WaitAll(loads);
            Assert.That(loads.Select(t => t.Result).Distinct().Count(), Is.EqualTo(1));
            Assert.That(Tipo.Expansion.TagLists.Reads[Path.GetFullPath(dir)], Is.EqualTo(1), "read once");
            Assert.That(loads[0].Result.Count("characters"), Is.EqualTo(200_000));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void WithoutModel_FetchesTheDefaultModel()
    {
        // Offline with an empty cache: the default alias is what it tries to fetch, and the message says how to give a model.
        string cache = Path.Combine(Path.GetTempPath(), "tipo-empty-hf-cache-" + Environment.ProcessId);
        Directory.CreateDirectory(cache);
        try
        {
            var (code, _, stderr) = RunCli(new Dictionary<string, string> { ["HF_HUB_OFFLINE"] = "1", ["HF_HUB_CACHE"] = cache },
                "expand", "1girl, solo", "--tag-lists", ExpansionTestData.TagListDirectory);
            Assert.That(code, Is.EqualTo(9), stderr);
            Assert.That(stderr, Does.Contain("KBlueLeaf/TIPO-500M-ft").And.Contain("--model"));
        }
        finally
        {
            Directory.Delete(cache, true);
        }
    }

    [Test]
    public void BadArgumentsAreUsageErrors()
    {
        Assert.That(RunCli("expand", "1girl", "--tag-length", "medium", "--dry-run").ExitCode, Is.EqualTo(2));
        Assert.That(RunCli("expand", "1girl", "--ban-category", "hair", "--dry-run").ExitCode, Is.EqualTo(2));
        Assert.That(RunCli("expand", "1girl", "--format", "nope", "--dry-run").ExitCode, Is.EqualTo(2));
    }

    private static string Canonical(JsonElement e) => JsonSerializer.Serialize(e);
}
