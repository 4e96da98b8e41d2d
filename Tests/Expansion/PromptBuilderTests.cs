using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary>apply_tipo_prompt's byte-exact outputs from spec §3.5 (HARNESS) and the planner table of §4.2.</summary>
public class PromptBuilderTests
{
    private static readonly List<KeyValuePair<string, string>> s_meta =
    [
        new("meta", "absurdres"), new("rating", "general"), new("artist", ""), new("characters", "hatsune miku"),
        new("copyrights", "vocaloid"), new("quality", "masterpiece"), new("aspect_ratio", "1.0"),
    ];

    private const string Head = "meta: absurdres\nrating: general\ncharacters: hatsune miku\ncopyrights: vocaloid\nquality: masterpiece\naspect_ratio: 1.0\n";
    private const string Nl = "A girl singing on a stage.";

    [TestCase(null, "long", "target: <|long|>\ntag: 1girl, solo, long hair")]
    [TestCase("long_to_tag", "long", "target: <|long|> <|long_to_tag|>\nlong: A girl singing on a stage.\ntag: 1girl, solo, long hair")]
    [TestCase("short_to_tag", "long", "target: <|long|> <|short_to_tag|>\nshort: A girl singing on a stage.\ntag: 1girl, solo, long hair")]
    [TestCase("short_to_tag_to_long", "short", "target: <|short|> <|short_to_tag_to_long|>\nshort: A girl singing on a stage.\ntag: 1girl, solo, long hair")]
    [TestCase("tag_to_long", "short", "target: <|short|> <|tag_to_long|>\ntag: 1girl, solo, long hair\nlong: A girl singing on a stage.")]
    [TestCase("tag_to_short_to_long", "short", "target: <|short|> <|tag_to_short_to_long|>\ntag: 1girl, solo, long hair\nshort: A girl singing on a stage.")]
    [TestCase("tag_to_long_to_short", "short", "target: <|short|> <|tag_to_long_to_short|>\ntag: 1girl, solo, long hair\nlong: \nshort: A girl singing on a stage.")]
    public void Section35_BuilderOutputs(string? task, string length, string expectedTail)
    {
        string prompt = PromptBuilder.Build(s_meta, "1girl, solo, long hair", Nl, new TipoOperation(task, TipoLengths.Parse(length), true));
        Assert.That(prompt, Is.EqualTo(Head + expectedTail));
    }

    [Test]
    public void Section35_GenMeta()
    {
        string prompt = PromptBuilder.Build(s_meta, "1girl, solo, long hair", Nl, new TipoOperation("short_to_tag_to_long", TipoLength.Long, true), genMeta: true);
        Assert.That(prompt, Is.EqualTo(Head + "target: <|long|> <|short_to_tag_to_long|> <|gen_meta|>\nshort: A girl singing on a stage.\ntag: 1girl, solo, long hair"));
    }

    [Test]
    public void Section35_NoInput_NlOnly_NonExpanding()
    {
        var meta = new List<KeyValuePair<string, string>> { new("meta", ""), new("aspect_ratio", "1.0") };
        Assert.That(PromptBuilder.Build(meta, "", "", new TipoOperation(null, TipoLength.Long, true)), Is.EqualTo("aspect_ratio: 1.0\ntarget: <|long|>"));
        Assert.That(PromptBuilder.Build(meta, "", "A girl sitting in a cafe.", new TipoOperation("long_to_tag", TipoLength.Long, true)),
            Is.EqualTo("aspect_ratio: 1.0\ntarget: <|long|> <|long_to_tag|>\nlong: A girl sitting in a cafe."));
        Assert.That(PromptBuilder.Build(meta, "1girl", "", new TipoOperation("tag_to_long", TipoLength.Long, false)),
            Is.EqualTo("aspect_ratio: 1.0\ntarget: <|long|> <|tag_to_long|>\ntag: 1girl\nlong:"));
    }

    [Test]
    public void Section42_PlannerTable()
    {
        static string Plan(bool tags, bool nl, bool extra, bool expandTags = true, bool expandPrompt = true, bool tagFirst = true) =>
            string.Join(" | ", OperationPlanner.Plan(tags, nl, TipoLength.Long, TipoLength.Short, extra, expandTags, expandPrompt, tagFirst)
                .Select(o => $"{o.Task ?? "None"},{o.Length.Name()},{o.Expand}"));
        Assert.Multiple(() =>
        {
            Assert.That(Plan(false, false, true), Is.EqualTo("None,long,True | tag_to_long,short,True"));
            Assert.That(Plan(true, false, true), Is.EqualTo("None,long,True | tag_to_long,short,False"));
            Assert.That(Plan(false, true, true), Is.EqualTo("long_to_tag,long,True | short_to_tag_to_long,short,False"));
            Assert.That(Plan(true, true, false), Is.EqualTo("short_to_tag,long,True | tag_to_long,short,True"));
            Assert.That(Plan(true, true, true), Is.EqualTo("short_to_tag,long,True | tag_to_long,short,True | short_to_tag_to_long,short,False"));
            Assert.That(Plan(true, true, false, tagFirst: false), Is.EqualTo("tag_to_long,short,True | long_to_tag,long,True"));
            Assert.That(Plan(true, true, true, false, false), Is.EqualTo("short_to_tag_to_long,short,False"));
        });
        Assert.That(OperationPlanner.WantsExtraNl(TipoFormats.Resolve(TipoFormats.TagFirstName), hasNl: false), Is.True);
        Assert.That(OperationPlanner.WantsExtraNl(TipoFormats.Resolve(TipoFormats.TagFirstName), hasNl: true), Is.False);
        Assert.That(OperationPlanner.WantsExtraNl(TipoFormats.Resolve(TipoFormats.GeneratedName), hasNl: true), Is.True);
        Assert.That(OperationPlanner.WantsExtraNl(TipoFormats.Resolve(TipoFormats.TagOnlyName), hasNl: false), Is.False);
    }
}
