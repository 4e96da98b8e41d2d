using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary>apply_format (spec §7, HARNESS g5) with the "Both + generated NL" fix.</summary>
public class FormatterTests
{
    private static TagMap G5()
    {
        // As KGen's maps: every category present (possibly empty), then the NL keys.
        var map = new TagMap();
        foreach (string c in TagCategory.All)
            map.SetList(c, []);
        map.SetList("special", ["1girl"]);
        map.SetList("general", ["solo", "smile"]);
        map.SetText(TagMap.Generated, "A girl smiles");
        map.SetText(TagMap.Extended, "");
        map.SetList("quality", ["masterpiece"]);
        map.SetList("rating", ["general"]);
        return map;
    }

    [TestCase(TipoFormats.TagOnlyName, "1girl, \n\nsolo, smile,\n\nmasterpiece, general")]
    [TestCase(TipoFormats.NlOnlyName, "A girl smiles.")]
    [TestCase(TipoFormats.TagFirstName, "1girl, \n\nsolo, smile,\n\nA girl smiles.\n\nmasterpiece, general")]
    [TestCase(TipoFormats.NlFirstName, "1girl, \n\nA girl smiles.\n\nsolo, smile,\n\nmasterpiece, general")]
    public void TraceG5_MatchesKGen(string format, string expected)
    {
        Assert.That(PromptFormatter.Format(G5(), TipoFormats.Resolve(format)), Is.EqualTo(expected));
    }

    [Test]
    public void BothPlusGeneratedNl_PrintsTheTextOnce_Fixed()
    {
        // Reference: '1girl, \n\nA girl smiles.\n\nsolo, smile,\n\nA girl smiles.\n\nmasterpiece, general'
        Assert.That(PromptFormatter.Format(G5(), TipoFormats.Resolve(TipoFormats.GeneratedName)),
            Is.EqualTo("1girl, \n\nA girl smiles.\n\nsolo, smile,\n\nmasterpiece, general"));
    }

    [Test]
    public void BothPlusGeneratedNl_WithBothTexts_PrintsBoth()
    {
        var map = G5();
        map.SetText(TagMap.Extended, "A girl waves");
        Assert.That(PromptFormatter.Format(map, TipoFormats.Resolve(TipoFormats.GeneratedName)),
            Is.EqualTo("1girl, \n\nA girl smiles.\n\nsolo, smile,\n\nA girl waves.\n\nmasterpiece, general"));
    }

    [Test]
    public void FormatsAreKGensStrings()
    {
        Assert.That(TipoFormats.Resolve(TipoFormats.TagFirstName), Is.EqualTo(
            "<|special|>, <|characters|>, <|copyrights|>, \n<|artist|>, \n\n<|general|>,\n\n<|extended|>.\n\n<|quality|>, <|meta|>, <|rating|>"));
        Assert.That(TipoFormats.Resolve(null), Is.EqualTo(TipoFormats.Resolve(TipoFormats.TagFirstName)));
        Assert.That(TipoFormats.Resolve("nl only (tag to nl)"), Is.EqualTo("<|extended|>."));
        Assert.That(TipoFormats.Resolve(@"<|general|>\n<|extended|>"), Is.EqualTo("<|general|>\n<|extended|>"));
        Assert.Throws<ArgumentException>(() => TipoFormats.Resolve("no such format"));
    }

    [Test]
    public void UnknownPlaceholdersAreRemoved_CustomKeysWork()
    {
        var map = G5();
        Assert.That(PromptFormatter.Format(map, "<|special|>, <|nothing|> <|general|>"), Is.EqualTo("1girl, solo, smile"));
        map.SetList("tag", ["1girl", "solo"]);
        Assert.That(PromptFormatter.Format(map, "<|tag|> | <|extended|>"), Is.EqualTo("1girl, solo | A girl smiles"));
    }

    [Test]
    public void NoNlAtAll_LeavesNoStrayPeriod()
    {
        var map = G5();
        map.Remove(TagMap.Generated);
        Assert.That(PromptFormatter.Format(map, TipoFormats.Resolve(TipoFormats.TagFirstName)),
            Is.EqualTo("1girl, \n\nsolo, smile,\n\nmasterpiece, general"));
    }
}
