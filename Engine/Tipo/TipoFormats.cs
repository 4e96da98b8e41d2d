namespace Tipo.Expansion;

/// <summary>KGen's five output formats (<c>TIPO_DEFAULT_FORMAT</c>), by name, and custom templates.</summary>
public static class TipoFormats
{
    private const string Head = "<|special|>, <|characters|>, <|copyrights|>, \n<|artist|>, \n\n";
    private const string Tail = "<|quality|>, <|meta|>, <|rating|>";

    public const string TagOnlyName = "tag only (DTG mode)";
    public const string NlOnlyName = "NL only (Tag to NL)";
    public const string TagFirstName = "Both, tag first (recommend)";
    public const string NlFirstName = "Both, NL first (recommend)";
    public const string GeneratedName = "Both + generated NL";

    /// <summary>The default: "Both, tag first (recommend)" (SD-WebUI's default).</summary>
    public const string DefaultName = TagFirstName;

    /// <summary>The five formats by name, in KGen's order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> All { get; } =
    [
        new(TagOnlyName, Head + "<|general|>,\n\n" + Tail),
        new(NlOnlyName, "<|extended|>."),
        new(TagFirstName, Head + "<|general|>,\n\n<|extended|>.\n\n" + Tail),
        new(NlFirstName, Head + "<|extended|>.\n\n<|general|>,\n\n" + Tail),
        new(GeneratedName, Head + "<|generated|>.\n\n<|general|>,\n\n<|extended|>.\n\n" + Tail),
    ];

    /// <summary>
    /// The template for a format name (exact or case-insensitive), or <paramref name="nameOrTemplate"/> itself when it
    /// holds a <c>&lt;|…|&gt;</c> placeholder (a custom template; the two-character sequence <c>\n</c> means a newline).
    /// Null or blank gives the default.
    /// </summary>
    public static string Resolve(string? nameOrTemplate)
    {
        if (string.IsNullOrWhiteSpace(nameOrTemplate))
            return All.First(f => f.Key == DefaultName).Value;
        foreach (var (name, template) in All)
        {
            if (string.Equals(name, nameOrTemplate.Trim(), StringComparison.OrdinalIgnoreCase))
                return template;
        }
        if (nameOrTemplate.Contains("<|", StringComparison.Ordinal) && nameOrTemplate.Contains("|>", StringComparison.Ordinal))
            return nameOrTemplate.Replace("\\n", "\n", StringComparison.Ordinal);
        throw new ArgumentException(
            $"unknown format '{nameOrTemplate}': use one of \"{string.Join("\", \"", All.Select(f => f.Key))}\" or a template with placeholders such as <|general|>",
            nameof(nameOrTemplate));
    }
}
