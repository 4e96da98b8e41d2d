using Tipo.Expansion;

namespace Tipo.Tests.Batch;

/// <summary>Request lines of <c>tipo expand --batch</c>: fields as the flags, defaults from the flags, errors per line.</summary>
public class BatchRequestParserTests
{
    private static readonly TipoRequest Defaults = new() { Width = 832, Height = 1216, MaxNewTokens = 100, Ban = BanList.Parse("bad", "artist") };

    [Test]
    public void EveryFieldMapsToTheRequest()
    {
        var r = BatchRequestParser.Parse(
            """{"tags":"1girl, solo","nl":"a girl","width":640,"height":480,"tag_length":"very_short","nl_length":"very long","format":"tag only (DTG mode)","ban":"hat, ^blue","ban_category":["meta","rating"],"seed":"18446744073709551615","temperature":0.7,"top_p":0.9,"top_k":12,"min_p":0.1,"repeat_penalty":1.3,"max_new_tokens":8}""",
            Defaults);
        Assert.Multiple(() =>
        {
            Assert.That(r.Tags, Is.EqualTo("1girl, solo"));
            Assert.That(r.NaturalLanguage, Is.EqualTo("a girl"));
            Assert.That((r.Width, r.Height), Is.EqualTo((640, 480)));
            Assert.That((r.TagLength, r.NlLength), Is.EqualTo((TipoLength.VeryShort, TipoLength.VeryLong)));
            Assert.That(r.Format, Is.EqualTo("tag only (DTG mode)"));
            Assert.That(r.Ban.Entries, Is.EqualTo(new[] { "hat", "^blue" }));
            Assert.That(r.Ban.Categories, Is.EquivalentTo(new[] { "meta", "rating" }));
            Assert.That(r.Seed, Is.EqualTo(ulong.MaxValue));
            Assert.That(r.Sampling.Temperature, Is.EqualTo(0.7f));
            Assert.That(r.Sampling.TopP, Is.EqualTo(0.9f));
            Assert.That(r.Sampling.TopK, Is.EqualTo(12));
            Assert.That(r.Sampling.MinP, Is.EqualTo(0.1f));
            Assert.That(r.Sampling.RepeatPenalty, Is.EqualTo(1.3f));
            Assert.That(r.MaxNewTokens, Is.EqualTo(8));
        });
    }

    [Test]
    public void AbsentFieldsComeFromTheDefaults()
    {
        var r = BatchRequestParser.Parse("""{"tags":"1girl","seed":-1,"nl":null}""", Defaults);
        Assert.Multiple(() =>
        {
            Assert.That((r.Width, r.Height, r.MaxNewTokens), Is.EqualTo((832, 1216, 100)));
            Assert.That(r.Seed, Is.Null);
            Assert.That(r.NaturalLanguage, Is.Empty);
            Assert.That(r.Ban.Entries, Is.EqualTo(new[] { "bad" }));
            Assert.That(r.Ban.Categories, Is.EquivalentTo(new[] { "artist" }));
            Assert.That(r.Sampling, Is.EqualTo(TipoDefaults.Sampling));
        });
        // A line's "ban" replaces the default entries but keeps the default categories.
        var banned = BatchRequestParser.Parse("""{"ban":"x"}""", Defaults);
        Assert.That(banned.Ban.Entries, Is.EqualTo(new[] { "x" }));
        Assert.That(banned.Ban.Categories, Is.EquivalentTo(new[] { "artist" }));
    }

    [TestCase("not json", "not valid JSON")]
    [TestCase("[1,2]", "must be a JSON object")]
    [TestCase("""{"tags":"a","bogus":1}""", "unknown field 'bogus'")]
    [TestCase("""{"tags":1}""", "'tags' must be a string")]
    [TestCase("""{"width":0}""", "'width' must be positive")]
    [TestCase("""{"width":1.5}""", "'width' must be an integer")]
    [TestCase("""{"tag_length":"medium"}""", "unknown length 'medium'")]
    [TestCase("""{"format":"nope"}""", "unknown format 'nope'")]
    [TestCase("""{"ban_category":"hair"}""", "unknown tag category 'hair'")]
    [TestCase("""{"seed":-5}""", "'seed' must be an integer")]
    [TestCase("""{"top_p":2}""", "TopP")]
    [TestCase("""{"tags":"a","tags":"b"}""", "appears twice")]
    public void BadLinesAreArgumentErrorsThatSayWhy(string line, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => BatchRequestParser.Parse(line, Defaults));
        Assert.That(e!.Message, Does.Contain(message));
    }
}
