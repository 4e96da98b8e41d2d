using System.Text.RegularExpressions;

namespace Tipo.Expansion;

/// <summary>
/// KGen's <c>apply_format</c> (spec §7.1): replaces <c>&lt;|key|&gt;</c> placeholders with the tag map's values.
/// Fixed quirk: when the template holds both <c>&lt;|extended|&gt;</c> and <c>&lt;|generated|&gt;</c> and there is no
/// extended text, the empty <c>&lt;|extended|&gt;</c> placeholder is dropped (the reference substitutes the generated
/// text for it, printing the same text twice). An empty or missing NL placeholder takes its trailing <c>.</c> or
/// <c>,</c> with it.
/// </summary>
public static partial class PromptFormatter
{
    [GeneratedRegex(@"<\|(?:(?!<\|.*\|>).)*\|>")]
    private static partial Regex LeftoverPlaceholder();

    [GeneratedRegex(@"<\|(?:extended|generated)\|>[.,]?")]
    private static partial Regex LeftoverNlPlaceholder();

    [GeneratedRegex(@"\n +")]
    private static partial Regex NewlineSpaces();

    [GeneratedRegex(@"\n\n\n+")]
    private static partial Regex ManyNewlines();

    [GeneratedRegex(@"  +")]
    private static partial Regex ManySpaces();

    /// <summary>Renders <paramref name="map"/> with <paramref name="template"/>.</summary>
    public static string Format(TagMap map, string template)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(template);
        string form = template;
        if (form.Contains("<|extended|>", StringComparison.Ordinal) && map.IsEmpty(TagMap.Extended))
        {
            form = form.Contains("<|generated|>", StringComparison.Ordinal)
                ? RemovePlaceholder(form, TagMap.Extended, nl: true)
                : form.Replace("<|extended|>", "<|generated|>", StringComparison.Ordinal);
        }
        foreach (string key in map.Keys)
        {
            string placeholder = "<|" + key + "|>";
            if (!form.Contains(placeholder, StringComparison.Ordinal))
                continue;
            form = map.IsEmpty(key)
                ? RemovePlaceholder(form, key, nl: map.IsText(key))
                : form.Replace(placeholder, map.Render(key), StringComparison.Ordinal);
        }
        form = LeftoverNlPlaceholder().Replace(form, "");
        form = LeftoverPlaceholder().Replace(form, "");
        form = NewlineSpaces().Replace(form, "\n");
        form = ManyNewlines().Replace(form, "\n\n");
        form = ManySpaces().Replace(form, " ");
        return form.Trim().Trim(',');
    }

    private static string RemovePlaceholder(string form, string key, bool nl)
    {
        string placeholder = "<|" + key + "|>";
        if (nl)
            form = form.Replace(placeholder + ".", "", StringComparison.Ordinal);
        return form.Replace(placeholder + ",", "", StringComparison.Ordinal).Replace(placeholder, "", StringComparison.Ordinal);
    }
}
