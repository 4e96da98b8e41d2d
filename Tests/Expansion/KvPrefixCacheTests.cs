using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

public class KvPrefixCacheTests
{
    [Test]
    public void ReusesTheCommonPrefix_AlwaysLeavesOneTokenToEvaluate()
    {
        var cache = new KvPrefixCache();
        Assert.That(cache.Reusable([1, 5, 6, 7]), Is.EqualTo(0));
        cache.Append([1, 5, 6, 7, 100, 101]); // prompt + generated
        Assert.That(cache.Reusable([1, 5, 6, 7, 100, 101, 102]), Is.EqualTo(6), "a retry that grows the prompt");
        Assert.That(cache.Reusable([1, 5, 6, 7]), Is.EqualTo(3), "the same prompt again: re-evaluate the last token");
        Assert.That(cache.Reusable([1, 5, 9]), Is.EqualTo(2));
        cache.Truncate(2);
        Assert.That(cache.Tokens, Is.EqualTo(new[] { 1, 5 }));
        cache.Clear();
        Assert.That(cache.Tokens, Is.Empty);
    }

    [Test]
    public void UnderscoreTagsKeepTheirWeight()
    {
        var p = WeightedPrompt.Parse("(long_hair:1.2), 1girl");
        Assert.That(p.ApplyToTags(["long hair"]), Is.EqualTo(new[] { "(long hair:1.2)" }));
    }
}
