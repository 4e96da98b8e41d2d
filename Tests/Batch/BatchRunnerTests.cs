using System.Text.Json;
using Tipo.Errors;
using Tipo.Expansion;
using Tipo.Inference.Sampling;
using Tipo.Tests.Expansion;

namespace Tipo.Tests.Batch;

/// <summary>The batch runner on canned models (no device): input order, error records, several workers, fatal errors.</summary>
public class BatchRunnerTests
{
    private const string Completion = "<|general|>solo, smile, outdoors, sky, tree, cloud, grass, day, blue sky, standing<|extended|>A girl.";

    private static TipoExpander Worker(Func<string, ulong, int, string>? complete = null) =>
        new(complete == null ? FakeLanguageModel.Sequence(Completion) : new FakeLanguageModel(complete), TagLists.BuiltInOnly, "fake", "fake device");

    private static (List<JsonElement> Records, BatchProgress Summary) Run(string input, params TipoExpander[] workers)
    {
        var output = new StringWriter();
        var seen = new List<BatchProgress>();
        var summary = BatchRunner.Run(new StringReader(input), output, workers, new TipoRequest { MaxNewTokens = 8 }, null, seen.Add);
        Assert.That(seen.Select(p => p.Done), Is.EqualTo(Enumerable.Range(1, seen.Count)));
        var records = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        foreach (var w in workers)
            w.Dispose();
        return (records, summary);
    }

    [Test]
    public void OneRecordPerLineInInputOrderWithErrorRecordsForBadLines()
    {
        string input = string.Join("\n",
            """{"tags":"1girl, solo","seed":1,"id":"a-1"}""",
            "{broken",
            "",
            """{"tags":"1boy","seed":2,"format":"no such format","id":{"shard":3,"n":7}}""",
            """{"tags":"scenery","seed":3}""") + "\n";
        var (records, summary) = Run(input, Worker());
        Assert.That(records.Select(r => r.GetProperty("line").GetInt32()), Is.EqualTo(new[] { 1, 2, 4, 5 }));
        Assert.Multiple(() =>
        {
            Assert.That(records[0].GetProperty("formatted").GetString(), Does.StartWith("1girl"));
            Assert.That(records[0].GetProperty("seed").GetUInt64(), Is.EqualTo(1UL));
            Assert.That(records[0].TryGetProperty("calls", out _), Is.True);
            Assert.That(records[0].GetProperty("id").GetString(), Is.EqualTo("a-1"));
            Assert.That(records[1].GetProperty("error").GetString(), Does.Contain("not valid JSON"));
            Assert.That(records[1].TryGetProperty("id", out _), Is.False);
            Assert.That(records[2].GetProperty("id").GetProperty("shard").GetInt32(), Is.EqualTo(3));
            Assert.That(records[2].GetProperty("error").GetString(), Does.Contain("unknown format"));
            Assert.That(records[3].GetProperty("formatted").GetString(), Does.Contain("scenery"));
            Assert.That((summary.Done, summary.Errors), Is.EqualTo((4, 2)));
        });
    }

    [Test]
    public void SeveralWorkersKeepInputOrderAndMatchOneWorker()
    {
        // Workers that take different times: results arrive out of order and must be written in order.
        var random = new Random(5);
        string input = string.Concat(Enumerable.Range(0, 40).Select(i => $$"""{"tags":"tag{{i}}, solo","seed":{{i}}}""" + "\n"));
        TipoExpander Slow(int ms) => Worker((_, _, _) => { Thread.Sleep(random.Next(ms)); return Completion; });
        var (parallel, summary) = Run(input, Slow(5), Slow(1), Slow(3));
        var (single, _) = Run(input, Worker());
        Assert.That(parallel.Select(r => r.GetProperty("line").GetInt32()), Is.EqualTo(Enumerable.Range(1, 40)));
        Assert.That(parallel.Select(r => r.GetProperty("formatted").GetString()), Is.EqualTo(single.Select(r => r.GetProperty("formatted").GetString())));
        Assert.That(summary.Done, Is.EqualTo(40));
        Assert.That(summary.RequestsPerSecond, Is.GreaterThan(0));
    }

    [Test]
    public void ADeviceFailureStopsTheBatchAfterTheRecordsBeforeIt()
    {
        string input = string.Concat(Enumerable.Range(0, 5).Select(i => $$"""{"tags":"t{{i}}","seed":{{i}}}""" + "\n"));
        var output = new StringWriter();
        using var worker = new TipoExpander(new FailingModel(callsBeforeFailure: 1), TagLists.BuiltInOnly, "fake", null);
        var e = Assert.Throws<BatchFailedException>(() =>
            BatchRunner.Run(new StringReader(input), output, [worker], new TipoRequest { Format = "tag only (DTG mode)" }));
        Assert.That(e!.InnerException, Is.InstanceOf<DeviceLostException>());
        Assert.That(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.LessThanOrEqualTo(1));
    }

    private sealed class FailingModel(int callsBeforeFailure) : ITipoLanguageModel
    {
        private int _calls;
        public string Name => "failing";
        public TipoCompletion Complete(string prompt, SamplingOptions options, ulong seed, int maxNewTokens, CancellationToken cancellationToken = default) =>
            _calls++ < callsBeforeFailure
                ? new TipoCompletion(Completion, 10, 10, TipoStopReason.EndOfSequence)
                : throw new DeviceLostException("device lost (test)");
        public void Dispose()
        {
        }
    }
}
