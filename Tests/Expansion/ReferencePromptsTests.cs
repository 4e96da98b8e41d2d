using System.Text.Json;
using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary><c>--dry-run</c> against KGen's own output on 8 requests (<c>reference/tipo-prompts.json</c>).</summary>
public class ReferencePromptsTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        string path = Path.Combine(TestData.SharedDir, "reference", "tipo-prompts.json");
        if (!File.Exists(path))
        {
            yield return new TestCaseData(-1).SetName("reference missing");
            yield break;
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        for (int i = 0; i < doc.RootElement.GetArrayLength(); i++)
            yield return new TestCaseData(i).SetName($"DryRun_MatchesKGen_case{i}");
    }

    [TestCaseSource(nameof(Cases))]
    public void DryRun_MatchesKGen(int index)
    {
        string path = TestData.Shared("reference/tipo-prompts.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement c = doc.RootElement[index];
        var request = new TipoRequest
        {
            Tags = c.GetProperty("tags").GetString()!,
            NaturalLanguage = c.GetProperty("nl").GetString()!,
            Width = c.GetProperty("width").GetInt32(),
            Height = c.GetProperty("height").GetInt32(),
            TagLength = TipoLengths.Parse(c.GetProperty("tag_length").GetString()!),
            NlLength = TipoLengths.Parse(c.GetProperty("nl_length").GetString()!),
            Format = c.GetProperty("format").GetString(),
        };
        var plan = TipoPlan.Create(request, ExpansionTestData.TagLists);
        using var actual = JsonDocument.Parse(TipoJson.DryRun(plan));
        JsonElement a = actual.RootElement;

        // categories: same keys in the same order, same lists
        var expectedCats = c.GetProperty("categories").EnumerateObject().Select(p => (p.Name, Tags: p.Value.EnumerateArray().Select(t => t.GetString()).ToList())).ToList();
        var actualCats = a.GetProperty("categories").EnumerateObject().Select(p => (p.Name, Tags: p.Value.EnumerateArray().Select(t => t.GetString()).ToList())).ToList();
        Assert.That(actualCats.Select(x => x.Name), Is.EqualTo(expectedCats.Select(x => x.Name)), "category order");
        for (int k = 0; k < expectedCats.Count; k++)
            Assert.That(actualCats[k].Tags, Is.EqualTo(expectedCats[k].Tags), expectedCats[k].Name);

        Assert.That(a.GetProperty("operations").GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""),
            Is.EqualTo(c.GetProperty("operations").GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", "")));
        Assert.That(a.GetProperty("first_prompt").GetString(), Is.EqualTo(c.GetProperty("first_prompt").GetString()));
    }
}
