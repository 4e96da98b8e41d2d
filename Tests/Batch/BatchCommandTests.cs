using System.Diagnostics;
using System.Text.Json;
using Tipo.Tests.Expansion;

namespace Tipo.Tests.Batch;

/// <summary><c>tipo expand --batch</c> as a process on ../shared/models/tipo-tiny (new tokens capped for lavapipe).</summary>
public class BatchCommandTests
{
    private static readonly string Device = Environment.GetEnvironmentVariable("TIPO_DEVICE") ?? "0";

    private static (int ExitCode, string Stdout, string Stderr) RunCli(string? stdin, params string[] args)
    {
        var result = TipoCli.Run(args, stdin: stdin, timeoutSeconds: 300);
        TestContext.Out.WriteLine(result.Err);
        return result;
    }

    private static List<JsonElement> Records(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private static readonly string[] Lines =
    [
        """{"tags":"1girl, scenery","seed":1,"format":"tag only (DTG mode)","tag_length":"very_short"}""",
        """{"tags":"1boy, night, city","seed":2,"format":"tag only (DTG mode)","tag_length":"very_short"}""",
        """{"tags":"solo","nl":"a cat","unknown_field":3}""",
        """{"tags":"cat, flower","seed":4,"format":"tag only (DTG mode)","tag_length":"very_short"}""",
        """{"tags":"hatsune miku, vocaloid","seed":5,"format":"tag only (DTG mode)","tag_length":"very_short","ban":"hair"}""",
    ];

    [Test]
    public void FiveRequestsOnTwoWorkersGiveOneRecordPerLineInOrder()
    {
        string dir = Path.Combine(Path.GetTempPath(), "tipo-batch-test-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        try
        {
            string input = Path.Combine(dir, "in.jsonl"), output = Path.Combine(dir, "out.jsonl");
            File.WriteAllLines(input, Lines);
            var (code, stdout, stderr) = RunCli(null, "expand", "--batch", input, "--out", output, "--model", TestData.Shared("models/tipo-tiny"),
                "--device", $"{Device},{Device}", "--max-new-tokens", "4", "--tag-lists", ExpansionTestData.TagListDirectory);
            Assert.That(code, Is.EqualTo(0), stderr);
            Assert.That(stdout, Is.Empty);
            Assert.That(stderr, Does.Contain("2 worker(s)").And.Match(@"5 requests \(1 errors\) in [0-9.]+ s on 2 worker\(s\): [0-9.]+ requests/s"));
            Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "in.jsonl", "out.jsonl" }), "no temporary file left");
            var records = Records(File.ReadAllText(output));
            Assert.That(records.Select(r => r.GetProperty("line").GetInt32()), Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
            Assert.That(records[2].GetProperty("error").GetString(), Does.Contain("unknown_field"));
            foreach (int i in new[] { 0, 1, 3, 4 })
            {
                Assert.That(records[i].GetProperty("seed").GetUInt64(), Is.EqualTo((ulong)i + 1));
                string tags = JsonDocument.Parse(Lines[i]).RootElement.GetProperty("tags").GetString()!;
                Assert.That(records[i].GetProperty("unformatted").GetString(), Does.StartWith(tags), "the user's tags first");
                Assert.That(records[i].GetProperty("calls").EnumerateArray().All(c => c.GetProperty("completion_tokens").GetInt32() <= 4));
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void DashReadsStdinAndWritesStdout()
    {
        var (code, stdout, stderr) = RunCli(Lines[0] + "\nnot json\n", "expand", "--batch", "-", "--out", "-",
            "--model", TestData.Shared("models/tipo-tiny"), "--max-new-tokens", "2", "--tag-lists", ExpansionTestData.TagListDirectory);
        Assert.That(code, Is.EqualTo(0), stderr);
        var records = Records(stdout);
        Assert.That(records.Select(r => r.GetProperty("line").GetInt32()), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(records[0].GetProperty("formatted").GetString(), Does.StartWith("1girl"));
        Assert.That(records[1].GetProperty("error").GetString(), Does.Contain("not valid JSON"));
    }

    [Test]
    public void BatchUsageErrors()
    {
        Assert.That(RunCli(null, "expand", "1girl", "--batch", "x.jsonl").ExitCode, Is.EqualTo(2));
        Assert.That(RunCli(null, "expand", "--batch", "/no/such/file.jsonl").ExitCode, Is.EqualTo(2));
        Assert.That(RunCli(null, "expand", "1girl", "--out", "o.jsonl").ExitCode, Is.EqualTo(2));
        Assert.That(RunCli(null, "expand", "1girl", "--device", "0,1").ExitCode, Is.EqualTo(2));
    }
}
