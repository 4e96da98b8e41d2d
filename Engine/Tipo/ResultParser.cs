using System.Text.RegularExpressions;

namespace Tipo.Expansion;

/// <summary>
/// KGen's <c>parse_tipo_result</c> (spec §6.1): parses prompt + completion back into a <see cref="TagMap"/>.
/// Lines <c>key: value</c>; a value runs on over following lines that do not look like <c>key:</c>; the first
/// occurrence of a key wins; <c>tag:</c> is split and re-classified; <c>short:</c> → <c>extended</c>, <c>long:</c> →
/// <c>generated</c>; any other key becomes a comma-split list.
/// Fixed quirk: only an exact leading <c>&lt;s&gt;</c> and trailing <c>&lt;/s&gt;</c> are removed (the reference strips
/// those characters, eating the <c>s</c> of a final <c>cat ears</c>).
/// </summary>
public static partial class ResultParser
{
    [GeneratedRegex(@"\n([^:\n]+):(.*(?:\n(?![^:\n]+:).*)*)")]
    private static partial Regex FieldRegex();

    /// <summary>Removes an exact leading <c>&lt;s&gt;</c> and trailing <c>&lt;/s&gt;</c>, and surrounding whitespace.</summary>
    public static string StripSpecialTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string s = text.Trim();
        if (s.StartsWith("<s>", StringComparison.Ordinal))
            s = s[3..].Trim();
        if (s.EndsWith("</s>", StringComparison.Ordinal))
            s = s[..^4].Trim();
        return s;
    }

    /// <summary>Parses <paramref name="result"/> (prompt + completion).</summary>
    public static TagMap Parse(string result, TagLists tagLists)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(tagLists);
        string text = "\n" + StripSpecialTokens(result);
        var map = new TagMap();
        foreach (Match m in FieldRegex().Matches(text))
        {
            string type = m.Groups[1].Value.Trim();
            string content = m.Groups[2].Value.Trim();
            string key = type switch { "short" => TagMap.Extended, "long" => TagMap.Generated, _ => type };
            if (map.Contains(key))
                continue;
            if (type == "tag")
            {
                var tags = SplitTags(content);
                foreach (var (category, values) in tagLists.Separate(tags))
                    map.MutableList(category).AddRange(values);
                map.SetList("tag", tags);
            }
            else if (type is not ("short" or "long"))
            {
                map.SetList(type, SplitTags(content));
            }
            else
            {
                if (content.Length == 0 || content == "<|empty|>")
                    continue;
                map.SetText(key, content);
            }
        }
        return map;
    }

    /// <summary>Splits on commas, trims, drops empties.</summary>
    public static List<string> SplitTags(string content) =>
        content.Split(',').Select(t => t.Trim()).Where(t => t.Length > 0).ToList();
}
