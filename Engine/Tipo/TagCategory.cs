namespace Tipo.Expansion;

/// <summary>The tag categories, as named in prompts, tag maps and format placeholders.</summary>
public static class TagCategory
{
    public const string Copyrights = "copyrights";
    public const string Meta = "meta";
    public const string Artist = "artist";
    public const string Characters = "characters";
    public const string Special = "special";
    public const string Quality = "quality";
    public const string Rating = "rating";
    public const string General = "general";

    /// <summary>The categories backed by a tag-list file (<c>{name}.txt</c>), in match order.</summary>
    public static IReadOnlyList<string> ListFiles { get; } = [Copyrights, Meta, Artist, Characters];

    /// <summary>
    /// Every category in match order (first match wins; KGen's dict order): copyrights, meta, artist, characters,
    /// special, quality, rating, then general for everything unknown.
    /// </summary>
    public static IReadOnlyList<string> All { get; } = [Copyrights, Meta, Artist, Characters, Special, Quality, Rating, General];

    /// <summary>True for one of the eight category names.</summary>
    public static bool IsCategory(string name) => All.Contains(name);
}
