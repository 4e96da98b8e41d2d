using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary>parse_tipo_result (spec §6.1, trace §9.3 G) with the <c>strip("&lt;s&gt;")</c> fix.</summary>
public class ResultParserTests
{
    private static TagLists Lists => ExpansionTestData.TagLists;

    [Test]
    public void TraceG_TrailingSIsKept_FixedCharacterStripping()
    {
        // The reference gives ["solo", "cat ear"]: str.strip("<s>") eats the trailing 's'.
        var map = ResultParser.Parse("aspect_ratio: 1.0\ntarget: <|long|>\ntag: 1girl, solo, cat ears", Lists);
        Assert.That(map.List("general"), Is.EqualTo(new[] { "solo", "cat ears" }));
        Assert.That(map.List("special"), Is.EqualTo(new[] { "1girl" }));
        Assert.That(map.List("tag"), Is.EqualTo(new[] { "1girl", "solo", "cat ears" }));
    }

    [Test]
    public void ExactBosEosTokensAreRemoved()
    {
        Assert.That(ResultParser.StripSpecialTokens("<s>tag: a, bs</s>"), Is.EqualTo("tag: a, bs"));
        Assert.That(ResultParser.StripSpecialTokens("s tag: sss"), Is.EqualTo("s tag: sss"));
        var map = ResultParser.Parse("<s>target: <|long|>\ntag: 1girl, glasses</s>", Lists);
        Assert.That(map.List("general"), Is.EqualTo(new[] { "glasses" }));
    }

    [Test]
    public void EmptyMarkerAndEmptyNlAreSkipped()
    {
        var map = ResultParser.Parse("tag: 1girl\nshort: <|empty|>\nlong:", Lists);
        Assert.That(map.Contains(TagMap.Extended), Is.False);
        Assert.That(map.Contains(TagMap.Generated), Is.False);
    }

    [Test]
    public void ShortAndLongMapToExtendedAndGenerated_MultiLineKept_FirstWins()
    {
        var map = ResultParser.Parse("tag: 1girl\nshort: A girl.\nlong: First paragraph.\nSecond paragraph.\nlong: ignored", Lists);
        Assert.That(map.Text(TagMap.Extended), Is.EqualTo("A girl."));
        Assert.That(map.Text(TagMap.Generated), Is.EqualTo("First paragraph.\nSecond paragraph."));
    }

    [Test]
    public void MetaLinesAreListsAndTagLineIsRecategorized()
    {
        string text = "meta: absurdres\nrating: sensitive\ncharacters: hatsune miku\naspect_ratio: 0.7\ntarget: <|long|>\n"
                      + "tag: 1girl, solo, highres, vocaloid, masterpiece, hakurei reimu, long_hair";
        var map = ResultParser.Parse(text, Lists);
        Assert.Multiple(() =>
        {
            Assert.That(map.List("meta"), Is.EqualTo(new[] { "absurdres", "highres" }));
            Assert.That(map.List("characters"), Is.EqualTo(new[] { "hatsune miku", "hakurei reimu" }));
            Assert.That(map.List("copyrights"), Is.EqualTo(new[] { "vocaloid" }));
            Assert.That(map.List("quality"), Is.EqualTo(new[] { "masterpiece" }));
            Assert.That(map.List("rating"), Is.EqualTo(new[] { "sensitive" }));
            Assert.That(map.List("general"), Is.EqualTo(new[] { "solo", "long hair" }));
            Assert.That(map.List("aspect_ratio"), Is.EqualTo(new[] { "0.7" }));
        });
        // keys in order of appearance, categories in match order
        Assert.That(map.Keys.Take(4), Is.EqualTo(new[] { "meta", "rating", "characters", "aspect_ratio" }));
    }

    [Test]
    public void Classification_UnderscoresOnlyForFourOrMoreCharacters()
    {
        var map = Lists.Separate(["o_o", "^_^", "long_hair", "hatsune_miku", "ningen mame", "score_9", "1boy"]);
        Assert.Multiple(() =>
        {
            Assert.That(map["general"], Is.EqualTo(new[] { "o_o", "^_^", "long hair" }));
            Assert.That(map["characters"], Is.EqualTo(new[] { "hatsune miku" }));
            Assert.That(map["artist"], Is.EqualTo(new[] { "ningen mame" }));
            Assert.That(map["quality"], Is.EqualTo(new[] { "score_9" }));
            Assert.That(map["special"], Is.EqualTo(new[] { "1boy" }));
        });
    }
}
