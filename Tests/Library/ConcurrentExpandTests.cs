using Tipo.Expansion;
using Tipo.Inference;
using Tipo.Inference.Sampling;
using Tipo.Tests.Expansion;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Library;

/// <summary>
/// One <see cref="TipoExpander"/> shared by 8 threads, on ../shared/models/tipo-tiny (new tokens capped for lavapipe).
/// <see cref="TipoExpander.Expand"/> must run one request at a time (the model and its KV cache are not thread-safe), and
/// each request must give what it gives when the requests run one by one: whichever request ran before leaves its prompt
/// in the KV cache, and the next one reuses the shared prefix, which must not change the result (see PrefixReuseTests
/// for the logits themselves).
/// </summary>
public class ConcurrentExpandTests : GpuTest
{
    private const int Threads = 8;

    private static readonly string[] s_tags = ["1girl, scenery", "1boy, solo, hat", "cat, no humans, outdoors", "2girls, school uniform"];

    /// <summary>8 distinct requests: 4 tag prompts, 2 sizes, a seed each.</summary>
    private static TipoRequest Request(int i) => new()
    {
        Tags = s_tags[i % s_tags.Length],
        Width = i % 2 == 0 ? 1024 : 832,
        Height = i % 2 == 0 ? 1024 : 1216,
        TagLength = TipoLength.VeryShort,
        NlLength = TipoLength.VeryShort,
        Seed = 500 + (ulong)i,
        MaxNewTokens = 4,
    };

    /// <summary>Passes calls through and records how many ran at once.</summary>
    private sealed class OverlapProbe(ITipoLanguageModel inner) : ITipoLanguageModel
    {
        private int _inside;
        private int _most;

        public int MostAtOnce => Volatile.Read(ref _most);

        public string Name => inner.Name;

        public TipoCompletion Complete(string prompt, SamplingOptions options, ulong seed, int maxNewTokens, CancellationToken cancellationToken = default)
        {
            Raise(ref _most, Interlocked.Increment(ref _inside));
            try
            {
                Thread.Sleep(1); // widen the window an unserialised second caller would fall into
                return inner.Complete(prompt, options, seed, maxNewTokens, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _inside);
            }
        }

        public void Dispose() => inner.Dispose();
    }

    private static void Raise(ref int most, int value)
    {
        for (int seen = Volatile.Read(ref most); value > seen; seen = Volatile.Read(ref most))
            if (Interlocked.CompareExchange(ref most, value, seen) == seen)
                return;
    }

    /// <summary>Everything a request produced except timings and how many prompt tokens came from the cache.</summary>
    private static string Fingerprint(TipoResult r) => string.Join("\n",
        new[] { r.Formatted, r.Unformatted, r.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture) }
            .Concat(r.TagMap.Keys.Order(StringComparer.Ordinal).Select(k => $"{k}={r.TagMap.Render(k)}"))
            .Concat(r.Calls.Select(c => $"call {c.Operation}.{c.Attempt} seed {c.Seed} [{c.Prompt}] -> [{c.Completion.Text}] {c.Completion.CompletionTokens} {c.Completion.StopReason}")));

    [Test]
    public void EightThreadsOnOneExpanderGetWhatTheRequestsGetOneByOne()
    {
        var llama = LlamaModel.Load(Device, TestData.Shared("models/tipo-tiny"), new InferenceOptions { ContextLength = 512 });
        var probe = new OverlapProbe(new LlamaLanguageModel(llama));
        using var tipo = new TipoExpander(probe, ExpansionTestData.TagLists, "tipo-tiny", Device.Info.Name);
        TipoRequest[] requests = Enumerable.Range(0, Threads).Select(Request).ToArray();
        Assert.That(requests.Distinct().Count(), Is.EqualTo(Threads), "distinct requests");

        // One by one, in order: each request finds the previous one's prompt in the cache.
        string[] oneByOne = requests.Select(r => Fingerprint(tipo.Expand(r))).ToArray();

        // All at once from 8 threads, released together: the lock decides the order, so the prefix each finds differs.
        var results = new string[Threads];
        var errors = new Exception?[Threads];
        int inExpand = 0, mostInExpand = 0;
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            Raise(ref mostInExpand, Interlocked.Increment(ref inExpand));
            try
            {
                results[t] = Fingerprint(tipo.Expand(requests[t]));
            }
            catch (Exception e)
            {
                errors[t] = e;
            }
            finally
            {
                Interlocked.Decrement(ref inExpand);
            }
        }) { IsBackground = true }).ToArray();
        foreach (Thread thread in threads)
            thread.Start();
        foreach (Thread thread in threads)
            Assert.That(thread.Join(TimeSpan.FromMinutes(5)), Is.True, "a thread did not finish within 5 minutes");

        Assert.Multiple(() =>
        {
            Assert.That(errors.Where(e => e != null), Is.Empty, "exceptions on the threads");
            Assert.That(mostInExpand, Is.GreaterThan(1), "threads were waiting in Expand at the same time");
            Assert.That(probe.MostAtOnce, Is.EqualTo(1), "model calls never overlap");
            for (int i = 0; i < Threads; i++)
                Assert.That(results[i], Is.EqualTo(oneByOne[i]), $"request {i} on a thread vs one by one");
        });
        TestContext.Out.WriteLine($"{Threads} threads, at most {mostInExpand} in Expand at once, at most {probe.MostAtOnce} model call at once");
        AssertNoValidationMessages("while expanding from 8 threads");
    }
}
