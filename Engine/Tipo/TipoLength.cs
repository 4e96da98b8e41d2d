namespace Tipo.Expansion;

/// <summary>The four length buckets TIPO's length tokens name (<c>&lt;|very_short|&gt;</c> …).</summary>
public enum TipoLength
{
    VeryShort,
    Short,
    Long,
    VeryLong,
}

/// <summary>Names, parsing and the count tables of <see cref="TipoLength"/> (KGen <c>metainfo.py</c>).</summary>
public static class TipoLengths
{
    /// <summary>The token name: <c>very_short</c>, <c>short</c>, <c>long</c>, <c>very_long</c>.</summary>
    public static string Name(this TipoLength length) => length switch
    {
        TipoLength.VeryShort => "very_short",
        TipoLength.Short => "short",
        TipoLength.Long => "long",
        TipoLength.VeryLong => "very_long",
        _ => throw new ArgumentOutOfRangeException(nameof(length)),
    };

    /// <summary>Parses <c>very_short</c>, <c>very short</c>, <c>very-short</c> … (case-insensitive).</summary>
    public static TipoLength Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string key = text.Trim().ToLowerInvariant().Replace(' ', '_').Replace('-', '_');
        return key switch
        {
            "very_short" => TipoLength.VeryShort,
            "short" => TipoLength.Short,
            "long" => TipoLength.Long,
            "very_long" => TipoLength.VeryLong,
            _ => throw new ArgumentException($"unknown length '{text}' (expected very_short, short, long or very_long)", nameof(text)),
        };
    }

    /// <summary>TARGET_TIPO: the minimum tag count; fewer triggers a retry.</summary>
    public static int MinTags(this TipoLength length) => length switch
    {
        TipoLength.VeryShort => 6,
        TipoLength.Short => 18,
        TipoLength.Long => 36,
        _ => 54,
    };

    /// <summary>TARGET_TIPO_MAX: the maximum general tag count; new tags beyond it are cut.</summary>
    public static int MaxTags(this TipoLength length) => length switch
    {
        TipoLength.VeryShort => 18,
        TipoLength.Short => 36,
        TipoLength.Long => 54,
        _ => 72,
    };

    /// <summary>TARGET_TIPO_NL: the minimum sentence count; fewer triggers a retry.</summary>
    public static int MinSentences(this TipoLength length) => length switch
    {
        TipoLength.VeryShort => 1,
        TipoLength.Short => 2,
        TipoLength.Long => 4,
        _ => 8,
    };

    /// <summary>TARGET_TIPO_NL_MAX: the maximum sentence count.</summary>
    public static int MaxSentences(this TipoLength length) => length switch
    {
        TipoLength.VeryShort => 2,
        TipoLength.Short => 4,
        TipoLength.Long => 8,
        _ => 10000,
    };
}
