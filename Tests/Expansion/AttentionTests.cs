using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary>A1111 attention syntax (spec §4.1, §7.3) and the aspect-ratio value (§3.2).</summary>
public class AttentionTests
{
    private static (string, double)[] Spans(string text) => AttentionParser.Parse(text).Select(s => (s.Text, s.Weight)).ToArray();

    [Test]
    public void A1111DocExamples()
    {
        Assert.That(Spans("normal text"), Is.EqualTo(new[] { ("normal text", 1.0) }));
        Assert.That(Spans("an (important) word"), Is.EqualTo(new[] { ("an ", 1.0), ("important", 1.1), (" word", 1.0) }));
        Assert.That(Spans("(unbalanced"), Is.EqualTo(new[] { ("unbalanced", 1.1) }));
        Assert.That(Spans(@"\(literal\]"), Is.EqualTo(new[] { ("(literal]", 1.0) }));
        Assert.That(Spans("(unnecessary)(parens)"), Is.EqualTo(new[] { ("unnecessaryparens", 1.1) }));
        Assert.That(Spans("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."), Is.EqualTo(new[]
        {
            ("a ", 1.0), ("house", 1.5730000000000004), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
            (", sun, ", 1.1), ("sky", 1.4641000000000006), (".", 1.1),
        }));
    }

    [Test]
    public void WeightsAreStrippedForTheModelAndRestoredAfterwards()
    {
        var p = WeightedPrompt.Parse(@"1girl, (ningen mame:1.1), (quasarcake:1.1025), [blurry], artoria pendragon \(fate\), ((smile))");
        Assert.That(p.Tags, Is.EqualTo(new[] { "1girl", "ningen mame", "quasarcake", "blurry", "artoria pendragon (fate)", "smile" }));
        Assert.That(p.ApplyToTags(["ningen mame", "quasarcake", "artoria pendragon (fate)", "smile", "new (tag)", "1girl"]), Is.EqualTo(new[]
        {
            "(ningen mame:1.1)", "(quasarcake:1.1025)", @"artoria pendragon \(fate\)", "(smile:1.2100000000000002)",
            @"new \(tag\)", "1girl",
        }));
        Assert.That(p.ApplyToTags(["blurry"]), Is.EqualTo(new[] { "(blurry:0.9090909090909091)" }));
    }

    [Test]
    public void BreakSplitsTagsAndIsPutBackAfterTheSameTag()
    {
        var p = WeightedPrompt.Parse("1girl, solo BREAK long hair, smile");
        Assert.That(p.Tags, Is.EqualTo(new[] { "1girl", "solo", "long hair", "smile" }));
        Assert.That(p.ApplyToTags(["solo", "long hair"]), Is.EqualTo(new[] { "solo", "BREAK", "long hair" }));
    }

    [Test]
    public void NlWeightsAreRestoredOnTheSameText()
    {
        var p = WeightedPrompt.Parse("A girl in a (red dress:1.3) on a stage.");
        Assert.That(p.PlainText, Is.EqualTo("A girl in a red dress on a stage."));
        Assert.That(p.ApplyToText("A girl in a red dress on a stage (at night). She sings"),
            Is.EqualTo(@"A girl in a (red dress:1.3) on a stage \(at night\). She sings"));
        Assert.That(p.ApplyToText("A girl on a stage"), Is.EqualTo("A girl on a stage"), "a lost part is no error");
    }

    [TestCase(1.1, "1.1")]
    [TestCase(2.0, "2.0")]
    [TestCase(1.1025, "1.1025")]
    [TestCase(0.00001, "1e-05")]
    public void WeightsPrintLikePython(double weight, string expected) =>
        Assert.That(AttentionParser.FormatWeight(weight), Is.EqualTo(expected));

    [TestCase(832, 1216, "0.7")]
    [TestCase(1344, 896, "1.5")]
    [TestCase(1024, 1024, "1.0")]
    [TestCase(768, 1344, "0.6")]
    [TestCase(768, 1024, "0.8")]  // 0.75 exactly: half to even
    [TestCase(256, 1024, "0.2")]  // 0.25 exactly: half to even
    [TestCase(1280, 1024, "1.2")] // 1.25 exactly: half to even
    [TestCase(27, 20, "1.4")]     // 1.35 is 1.3500000000000000888… in binary
    [TestCase(3, 20, "0.1")]      // 0.15 is 0.1499999999999999944…
    public void AspectRatioRoundsLikePython(int w, int h, string expected) =>
        Assert.That(AspectRatio.Format(w, h), Is.EqualTo(expected));
}
