using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary>post_generate_process (spec §6.2, traces §9.3 C, E, F) with the truncation and ban-list fixes.</summary>
public class PostProcessorTests
{
    private static readonly List<KeyValuePair<string, string>> s_meta =
    [
        new("meta", ""), new("rating", ""), new("artist", ""), new("characters", ""), new("copyrights", ""),
        new("quality", ""), new("aspect_ratio", "1.0"),
    ];

    private static TagMap Run(string result, string general, string nl, TipoOperation op, BanList? ban = null,
        IReadOnlyList<KeyValuePair<string, string>>? meta = null, ulong seed = 1)
    {
        var parsed = ResultParser.Parse(result, ExpansionTestData.TagLists);
        return PostProcessor.Process(parsed, meta ?? s_meta, general, nl, op, ban ?? BanList.Empty, new TipoRandom(seed));
    }

    [Test]
    public void InputTagsFirstInOrder_NewTagsShuffled()
    {
        string prompt = "aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo, cat ears";
        var map = Run(prompt + ", a1, a2, a3, a4, a5, a6, a7, a8", "1girl, solo, cat ears", "", new(null, TipoLength.Long, true));
        var general = map.List("general");
        Assert.That(general.Take(2), Is.EqualTo(new[] { "solo", "cat ears" }));
        Assert.That(general.Skip(2), Is.EquivalentTo(new[] { "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8" }));
        Assert.That(map.List("special"), Is.EqualTo(new[] { "1girl" }));
        Assert.That(map.Contains(TagMap.Generated), Is.False);
        Assert.That(map.Text(TagMap.Extended), Is.Empty);
    }

    [Test]
    public void TraceE_TooManyTagsAreCutToTheTagMaximum_FixedTruncation()
    {
        // 57 new tags for "long": the reference keeps 8 - 2 = 6 (it uses the sentence maximum); fixed: 54 - 2 = 52.
        string prompt = "aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo, long hair";
        string completion = string.Concat(Enumerable.Range(0, 57).Select(i => $", new tag {i}"));
        var map = Run(prompt + completion, "1girl, solo, long hair", "", new(null, TipoLength.Long, true));
        Assert.That(map.List("general"), Has.Count.EqualTo(54));
        Assert.That(map.List("general").Take(2), Is.EqualTo(new[] { "solo", "long hair" }));
    }

    [Test]
    public void TraceF_BanFiltersNewTagsOfEveryCategory_NeverTheUsersOwn()
    {
        // Reference: only general tags are filtered, so the new meta tag "official art" survives.
        var ban = BanList.Parse("hat, text, official.*, umbrella, male", null);
        var meta = s_meta.Select(kv => kv.Key == "meta" ? new KeyValuePair<string, string>("meta", "official art") : kv).ToList();
        string prompt = "meta: official art\naspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo, hat";
        var map = Run(prompt + ", text, umbrella, smile, official art, official alternate costume, male focus, highres",
            "1girl, solo, hat", "", new(null, TipoLength.Long, true), ban, meta);
        Assert.Multiple(() =>
        {
            Assert.That(map.List("general"), Is.EquivalentTo(new[] { "solo", "hat", "smile" }), "user's 'hat' stays");
            Assert.That(map.List("meta"), Is.EqualTo(new[] { "official art", "highres" }), "user's meta stays, new 'official…' goes");
            Assert.That(map.List("special"), Is.EqualTo(new[] { "1girl" }), "new 'male focus' (special) is banned by 'male'");
        });
    }

    [Test]
    public void BanCategory_DropsEveryNewTagOfTheCategory()
    {
        var ban = BanList.Parse(null, "characters, copyrights");
        var meta = s_meta.Select(kv => kv.Key == "characters" ? new KeyValuePair<string, string>("characters", "hatsune miku") : kv).ToList();
        string prompt = "characters: hatsune miku\naspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl";
        var map = Run(prompt + ", hakurei reimu, touhou, smile", "1girl", "", new(null, TipoLength.Long, true), ban, meta);
        Assert.That(map.List("characters"), Is.EqualTo(new[] { "hatsune miku" }));
        Assert.That(map.List("copyrights"), Is.Empty);
        Assert.That(map.List("general"), Is.EqualTo(new[] { "smile" }));
    }

    [Test]
    public void BanRegexIsAnchoredAtTheStart_SubstringAnywhere()
    {
        var ban = BanList.Parse(".*text, hat", null);
        Assert.Multiple(() =>
        {
            Assert.That(ban.IsBanned("english text"), Is.True);
            Assert.That(ban.IsBanned("textless version"), Is.True);
            Assert.That(ban.IsBanned("witch hat"), Is.True);
            Assert.That(ban.IsBanned("smile"), Is.False);
            Assert.That(BanList.Parse("^official", null).IsBanned("unofficial art"), Is.False);
        });
    }

    [Test]
    public void TraceC_NlOnly_LongContinuationBecomesExtended()
    {
        string prompt = "aspect_ratio: 1.0\ntarget: <|long|> <|long_to_tag|>\nlong: A girl sitting in a cafe.";
        string completion = " She has long black hair and is holding a cup of coffee. The cafe is warmly lit with wooden furniture.\n"
                            + "tag: 1girl, solo, long hair, black hair, cup, holding cup, cafe";
        var map = Run(prompt + completion, "", "A girl sitting in a cafe.", new("long_to_tag", TipoLength.Long, true));
        Assert.That(map.Text(TagMap.Extended), Is.EqualTo(
            "A girl sitting in a cafe. She has long black hair and is holding a cup of coffee. The cafe is warmly lit with wooden furniture"));
        Assert.That(map.Contains(TagMap.Generated), Is.False);
        Assert.That(map.List("general"), Is.EquivalentTo(new[] { "solo", "long hair", "black hair", "cup", "holding cup", "cafe" }));
    }

    [Test]
    public void ContinuedLastSentenceReplacesTheUsersSentence_BannedSentencesDropped()
    {
        string prompt = "aspect_ratio: 1.0\ntarget: <|long|> <|tag_to_long|>\ntag: 1girl, solo\nlong: A girl sitting in a cafe";
        string completion = " near a window. She holds an umbrella. She smiles. The light is warm.";
        var map = Run(prompt + completion, "1girl, solo", "A girl sitting in a cafe", new("tag_to_long", TipoLength.Long, true),
            BanList.Parse("umbrella", null));
        string text = map.Text(TagMap.Extended);
        Assert.That(text, Does.StartWith("A girl sitting in a cafe near a window. "));
        Assert.That(text, Does.EndWith("The light is warm"));
        Assert.That(text, Does.Not.Contain("umbrella"));
        Assert.That(text, Does.Contain("She smiles"));
    }

    [Test]
    public void SentencesBeyondTheMaximumAreCut()
    {
        string prompt = "aspect_ratio: 1.0\ntarget: <|very_short|> <|tag_to_long|>\ntag: 1girl\nlong:";
        var map = Run(prompt + " One. Two. Three. Four.", "1girl", "", new("tag_to_long", TipoLength.VeryShort, false));
        Assert.That(map.Text(TagMap.Generated), Is.EqualTo("One. Two"));
        Assert.That(map.Text(TagMap.Extended), Is.Empty);
    }

    [Test]
    public void ShuffleIsDeterministicForASeed()
    {
        string prompt = "aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl";
        string completion = string.Concat(Enumerable.Range(0, 20).Select(i => $", t{i}"));
        var a = Run(prompt + completion, "1girl", "", new(null, TipoLength.Long, true), seed: 7).List("general");
        var b = Run(prompt + completion, "1girl", "", new(null, TipoLength.Long, true), seed: 7).List("general");
        var c = Run(prompt + completion, "1girl", "", new(null, TipoLength.Long, true), seed: 8).List("general");
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a, Is.Not.EqualTo(c));
    }
}
