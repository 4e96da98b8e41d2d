using System.Diagnostics;
using System.Text.Json;
using Tipo.Expansion;
using Tipo.Inference;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Expansion;

/// <summary>
/// The whole TIPO pipeline on the real engine with ../shared/models/tipo-tiny (random weights: the text is
/// nonsense, the structure is not). New tokens per call are capped (8) to keep lavapipe runs short.
/// </summary>
public class ExpandOnEngineTests : GpuTest
{
    private const string UserTags = "1girl, hatsune miku, vocaloid, solo, long hair, masterpiece";

    private TipoResult Run(TipoRequest request)
    {
        using var model = new LlamaLanguageModel(LlamaModel.Load(Device, TestData.Shared("models/tipo-tiny"),
            new InferenceOptions { KvCacheType = KvCacheType.F32, ContextLength = 2048 }));
        var clock = Stopwatch.StartNew();
        var result = new TipoPipeline(model, ExpansionTestData.TagLists).Run(request);
        TestContext.Out.WriteLine($"{result.Calls.Count} model calls in {clock.Elapsed.TotalSeconds:F2} s; "
            + string.Join("; ", result.Calls.Select(c => $"prompt {c.Completion.PromptTokens} tok ({c.Completion.CachedPromptTokens} cached), {c.Completion.CompletionTokens} new, {c.Elapsed.TotalMilliseconds:F0} ms")));
        return result;
    }

    private static TipoRequest Request(ulong seed, string ban = "") => new()
    {
        Tags = UserTags,
        Width = 832,
        Height = 1216,
        TagLength = TipoLength.Short,
        NlLength = TipoLength.Short,
        Seed = seed,
        Ban = BanList.Parse(ban, null),
        MaxNewTokens = 8,
    };

    [Test]
    public void UserTagsComeFirstInTheirOrderAndCountsStayWithinTheMaximum()
    {
        var result = Run(Request(7));
        var map = result.TagMap;
        Assert.Multiple(() =>
        {
            Assert.That(map.List(TagCategory.Special).Take(1), Is.EqualTo(new[] { "1girl" }));
            Assert.That(map.List(TagCategory.Characters).Take(1), Is.EqualTo(new[] { "hatsune miku" }));
            Assert.That(map.List(TagCategory.Copyrights).Take(1), Is.EqualTo(new[] { "vocaloid" }));
            Assert.That(map.List(TagCategory.General).Take(2), Is.EqualTo(new[] { "solo", "long hair" }));
            Assert.That(map.List(TagCategory.General), Has.Count.LessThanOrEqualTo(Math.Max(2, TipoLength.Short.MaxTags())));
            Assert.That(result.Formatted, Does.StartWith("1girl"));
            Assert.That(result.Calls, Is.Not.Empty);
        });
    }

    [Test]
    public void BannedPatternsNeverAppearAmongNewTags()
    {
        // Ban every new tag holding a common letter: with random weights most generated "tags" would contain one.
        var request = Request(11, ban: "e, a");
        var result = Run(request);
        string[] user = UserTags.Split(", ");
        foreach (string category in TagCategory.All)
            foreach (string tag in result.TagMap.List(category))
                if (!user.Contains(tag))
                    Assert.That(request.Ban.IsBanned(tag), Is.False, $"new {category} tag '{tag}' is banned");
    }

    [Test]
    public void SameSeedGivesByteIdenticalOutputAndJsonIsValid()
    {
        var first = Run(Request(1234));
        var second = Run(Request(1234));
        Assert.That(second.Formatted, Is.EqualTo(first.Formatted));
        Assert.That(second.Unformatted, Is.EqualTo(first.Unformatted));
        Assert.That(second.Calls.Select(c => c.Completion.Text), Is.EqualTo(first.Calls.Select(c => c.Completion.Text)));
        using var json = JsonDocument.Parse(TipoJson.Result(first));
        Assert.That(json.RootElement.ValueKind, Is.EqualTo(JsonValueKind.Object));
        Assert.That(first.Seed, Is.EqualTo(1234UL));
    }

    [Test]
    public void RetriesReuseTheCachedPromptPrefix()
    {
        var result = Run(Request(99) with { TagLength = TipoLength.VeryLong });
        var calls = result.Calls;
        Assume.That(calls, Has.Count.GreaterThan(1), "needs at least two model calls");
        Assert.That(calls.Skip(1).Sum(c => c.Completion.CachedPromptTokens), Is.GreaterThan(0),
            "later calls of one request evaluate only the tokens after the prefix they share with the previous call");
    }
}
