using System.Text.Json;
using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary>The runner and retry loop (spec §4.3–4.4, traces §9.3 A, B, D) over a canned model.</summary>
public class PipelineTests
{
    private const string TraceATags = "1girl, hatsune miku, vocaloid, ningen mame, solo, long hair, masterpiece, absurdres, sensitive";
    private const string FourSentences = " An anime girl with aqua twintails. She wears a grey shirt. She is smiling. The background is white.";

    private static string NewTags(int count, string prefix = "tag") =>
        string.Concat(Enumerable.Range(0, count).Select(i => $", {prefix} {i}"));

    private static TipoResult Run(TipoRequest request, ITipoLanguageModel model) =>
        new TipoPipeline(model, ExpansionTestData.TagLists).Run(request);

    [Test]
    public void TraceA_TagsOnly_TwoOperations()
    {
        var model = FakeLanguageModel.Sequence(NewTags(36), FourSentences);
        var result = Run(new TipoRequest { Tags = TraceATags, Width = 832, Height = 1216, Seed = 1234 }, model);
        Assert.That(model.Calls, Has.Count.EqualTo(2));
        const string meta = "meta: absurdres\nrating: sensitive\nartist: ningen mame\ncharacters: hatsune miku\ncopyrights: vocaloid\nquality: masterpiece\naspect_ratio: 0.7\n";
        Assert.That(model.Calls[0].Prompt, Is.EqualTo(meta + "target: <|long|>\ntag: 1girl, solo, long hair"));
        Assert.That(model.Calls[1].Prompt, Does.StartWith(meta + "target: <|long|> <|tag_to_long|>\ntag: 1girl, solo, long hair, tag "));
        Assert.That(model.Calls[1].Prompt, Does.EndWith("\nlong:"));
        Assert.That(model.Calls.All(c => c.Options == TipoDefaults.Sampling && c.MaxNewTokens == 512), Is.True);
        Assert.That(result.Formatted, Does.StartWith("1girl, hatsune miku, vocaloid, \nningen mame, \n\nsolo, long hair, tag "));
        Assert.That(result.Formatted, Does.EndWith(
            ",\n\nAn anime girl with aqua twintails. She wears a grey shirt. She is smiling. The background is white.\n\nmasterpiece, absurdres, sensitive"));
        Assert.That(result.TagMap.List("general"), Has.Count.EqualTo(38));
    }

    [Test]
    public void TraceB_TooFewTags_RetryContinuesFromTheAccumulatedTags()
    {
        var model = FakeLanguageModel.Sequence(", smile, short hair", NewTags(36));
        var result = Run(new TipoRequest { Tags = "1girl, solo, cat ears", Format = TipoFormats.TagOnlyName, Seed = 5 }, model);
        Assert.That(model.Calls, Has.Count.EqualTo(2));
        Assert.That(model.Calls[0].Prompt, Is.EqualTo("aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo, cat ears"));
        Assert.That(model.Calls[1].Prompt, Is.AnyOf(
            "aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo, cat ears, smile, short hair",
            "aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo, cat ears, short hair, smile"));
        Assert.That(model.Calls[1].Seed, Is.EqualTo(model.Calls[0].Seed + 1));
        Assert.That(result.Calls.Select(c => c.Attempt), Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void NonExpandingRetry_ResamplesTheOriginalPrompt_NoDuplicatedLongKey()
    {
        // Reference: the retry prompt is '…\nlong: <previous NL>\nlong:'.
        var model = FakeLanguageModel.Sequence(NewTags(36), " Only one sentence. And two. And three.", FourSentences);
        var result = Run(new TipoRequest { Tags = "1girl, solo", Seed = 9 }, model);
        Assert.That(model.Calls, Has.Count.EqualTo(3));
        Assert.That(model.Calls[2].Prompt, Is.EqualTo(model.Calls[1].Prompt));
        Assert.That(model.Calls[2].Prompt.Split("long:").Length - 1, Is.EqualTo(1));
        Assert.That(model.Calls[2].Seed, Is.EqualTo(model.Calls[1].Seed + 1));
        Assert.That(result.Formatted, Does.Contain("The background is white."));
        Assert.That(result.Formatted, Does.Not.Contain("Only one sentence"));
    }

    [Test]
    public void RetryStopsAfterFiveRepeatsOfTheSameResult()
    {
        var model = FakeLanguageModel.Sequence(", smile");
        Run(new TipoRequest { Tags = "1girl", Format = TipoFormats.TagOnlyName, Seed = 1 }, model);
        Assert.That(model.Calls, Has.Count.EqualTo(7)); // new, new, then 5 repeats
    }

    [Test]
    public void RetryStopsAfterTenRetries()
    {
        var model = new FakeLanguageModel((_, _, n) => $", fresh {n}");
        Run(new TipoRequest { Tags = "1girl", Format = TipoFormats.TagOnlyName, Seed = 1 }, model);
        Assert.That(model.Calls, Has.Count.EqualTo(11));
    }

    [Test]
    public void TraceD_TagsAndNl_SecondCallContinuesTheBareSentence()
    {
        var model = FakeLanguageModel.Sequence(NewTags(36), " with a cup of tea. She smiles. The sun shines. It is warm.");
        var result = Run(new TipoRequest { Tags = "1girl, solo, cat ears", NaturalLanguage = "A girl sitting in a cafe.", Seed = 3 }, model);
        Assert.That(model.Calls[0].Prompt, Is.EqualTo(
            "aspect_ratio: 1.0\ntarget: <|long|> <|short_to_tag|>\nshort: A girl sitting in a cafe.\ntag: 1girl, solo, cat ears"));
        Assert.That(model.Calls[1].Prompt, Does.StartWith("aspect_ratio: 1.0\ntarget: <|long|> <|tag_to_long|>\ntag: 1girl, solo, cat ears, "));
        Assert.That(model.Calls[1].Prompt, Does.EndWith("\nlong: A girl sitting in a cafe"));
        Assert.That(result.TagMap.Text(TagMap.Extended), Does.StartWith("A girl sitting in a cafe with a cup of tea. "));
        Assert.That(result.TagMap.Text(TagMap.Extended), Does.EndWith("It is warm"));
    }

    [Test]
    public void BothPlusGeneratedNl_TagsOnly_PrintsTheGeneratedTextOnce()
    {
        var model = FakeLanguageModel.Sequence(NewTags(6), FourSentences);
        var result = Run(new TipoRequest
        {
            Tags = "no humans, scenery, mountain", Width = 1344, Height = 896, TagLength = TipoLength.VeryShort,
            Format = TipoFormats.GeneratedName, Seed = 2,
        }, model);
        Assert.That(result.Formatted.Split("She is smiling").Length - 1, Is.EqualTo(1));
        Assert.That(result.Formatted, Does.StartWith("An anime girl with aqua twintails. She wears a grey shirt. She is smiling. The background is white.\n\nno humans, scenery, mountain, "));
    }

    [Test]
    public void UserWeightsComeBack_NewTagsAreEscaped()
    {
        var model = FakeLanguageModel.Sequence(", new (tag), other" + NewTags(40), FourSentences);
        var result = Run(new TipoRequest { Tags = "(ningen mame:1.1), 1girl, [solo], masterpiece", Seed = 4 }, model);
        Assert.That(model.Calls[0].Prompt, Is.EqualTo("artist: ningen mame\nquality: masterpiece\naspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo"));
        Assert.That(result.Formatted, Does.Contain("(ningen mame:1.1)"));
        Assert.That(result.Formatted, Does.Contain("(solo:0.9090909090909091)"));
        Assert.That(result.Formatted, Does.Contain(@"new \(tag\)"));
        Assert.That(result.FormattedUserInput, Is.EqualTo("1girl, \n(ningen mame:1.1), \n\n(solo:0.9090909090909091),\n\nmasterpiece"));
        Assert.That(result.Unformatted, Does.StartWith("(ningen mame:1.1), 1girl, [solo], masterpiece, "));
    }

    private static FakeLanguageModel SeedDependentModel() => new((prompt, seed, _) =>
        prompt.EndsWith(':') ? " Sentence one. Sentence two. Sentence three. Sentence four."
            : string.Concat(Enumerable.Range(0, 40).Select(i => $", tag {(seed + (ulong)i * 7) % 1000}")));

    [Test]
    public void SameSeedSameOutput_RandomSeedIsReportedAndReplays()
    {
        var request = new TipoRequest { Tags = "1girl, solo", NaturalLanguage = "A girl.", Seed = 42 };
        var a = Run(request, SeedDependentModel());
        var b = Run(request, SeedDependentModel());
        Assert.That(a.Formatted, Is.EqualTo(b.Formatted));
        Assert.That(a.Calls.Select(c => c.Prompt), Is.EqualTo(b.Calls.Select(c => c.Prompt)));
        var c = Run(request with { Seed = 43 }, SeedDependentModel());
        Assert.That(c.Formatted, Is.Not.EqualTo(a.Formatted));

        var random = Run(request with { Seed = null }, SeedDependentModel());
        var replay = Run(request with { Seed = random.Seed }, SeedDependentModel());
        Assert.That(replay.Formatted, Is.EqualTo(random.Formatted));
    }

    [Test]
    public void PerCallSeedsFollowTheDocumentedDerivation()
    {
        var model = FakeLanguageModel.Sequence(NewTags(36), FourSentences);
        Run(new TipoRequest { Tags = "1girl", Seed = 77 }, model);
        Assert.That(model.Calls[0].Seed, Is.EqualTo(TipoSeeds.ForOperation(77, 0)));
        Assert.That(model.Calls[1].Seed, Is.EqualTo(TipoSeeds.ForOperation(77, 1)));
    }

    [Test]
    public void JsonReportHoldsEveryOutputAndCall()
    {
        var model = FakeLanguageModel.Sequence(NewTags(36), FourSentences);
        var result = Run(new TipoRequest { Tags = "1girl, solo", Seed = 11 }, model);
        using var doc = JsonDocument.Parse(TipoJson.Result(result));
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("formatted").GetString(), Is.EqualTo(result.Formatted));
        Assert.That(root.GetProperty("seed").GetUInt64(), Is.EqualTo(11UL));
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("fake"));
        Assert.That(root.GetProperty("tags").GetProperty("special")[0].GetString(), Is.EqualTo("1girl"));
        Assert.That(root.GetProperty("nl").GetProperty("generated").GetString(), Does.StartWith("An anime girl"));
        JsonElement calls = root.GetProperty("calls");
        Assert.That(calls.GetArrayLength(), Is.EqualTo(2));
        Assert.That(calls[0].GetProperty("prompt").GetString(), Is.EqualTo("aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo"));
        Assert.That(calls[1].GetProperty("completion").GetString(), Is.EqualTo(FourSentences));
        Assert.That(calls[1].TryGetProperty("time_ms", out _), Is.True);
        Assert.That(root.TryGetProperty("unformatted", out _) && root.TryGetProperty("user_formatted", out _), Is.True);
    }
}
