using System.Text.RegularExpressions;

namespace Tipo.Expansion;

/// <summary>
/// KGen's <c>tag_filter</c> (spec §6.3): an entry bans a tag or sentence that contains it as a substring, or that the
/// entry matches as a regular expression anchored at the start (Python <c>re.match</c>). Plus whole categories
/// (<c>--ban-category</c>), which ban every new tag of that category.
/// </summary>
public sealed class BanList
{
    private readonly List<(string Text, Regex? Pattern)> _entries = [];
    private readonly HashSet<string> _categories = new(StringComparer.Ordinal);

    /// <summary>No bans.</summary>
    public static BanList Empty { get; } = new([], []);

    /// <summary>Creates a ban list from entries (blank ones ignored) and category names.</summary>
    public BanList(IEnumerable<string> entries, IEnumerable<string> categories)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(categories);
        foreach (string raw in entries)
        {
            string entry = raw.Trim();
            if (entry.Length == 0)
                continue;
            Regex? pattern;
            try
            {
                pattern = new Regex(@"\G(?:" + entry + ")", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException)
            {
                pattern = null; // not a valid regex: substring match only
            }
            _entries.Add((entry, pattern));
        }
        foreach (string raw in categories)
        {
            string category = raw.Trim().ToLowerInvariant();
            if (category.Length == 0)
                continue;
            if (!TagCategory.IsCategory(category))
                throw new ArgumentException($"unknown tag category '{raw}' (expected one of {string.Join(", ", TagCategory.All)})", nameof(categories));
            _categories.Add(category);
        }
    }

    /// <summary>Parses comma-separated lists (<c>--ban</c>, <c>--ban-category</c>).</summary>
    public static BanList Parse(string? entries, string? categories) =>
        new((entries ?? "").Split(','), (categories ?? "").Split(','));

    /// <summary>The entries, trimmed.</summary>
    public IEnumerable<string> Entries => _entries.Select(e => e.Text);

    /// <summary>The banned categories.</summary>
    public IReadOnlySet<string> Categories => _categories;

    /// <summary>True when nothing is banned.</summary>
    public bool IsEmpty => _entries.Count == 0 && _categories.Count == 0;

    /// <summary>True when <paramref name="text"/> (a tag or a sentence) is banned by an entry.</summary>
    public bool IsBanned(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var (entry, pattern) in _entries)
        {
            if (text.Contains(entry, StringComparison.Ordinal))
                return true;
            try
            {
                if (pattern is not null && pattern.Match(text, 0).Success)
                    return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // a pathological pattern: treat as no match
            }
        }
        return false;
    }

    /// <summary>True when a new tag of <paramref name="category"/> must be dropped.</summary>
    public bool IsBanned(string tag, string category) => _categories.Contains(category) || IsBanned(tag);
}
