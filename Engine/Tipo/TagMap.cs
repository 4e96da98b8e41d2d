namespace Tipo.Expansion;

/// <summary>
/// KGen's tag map: an insertion-ordered map from a key (a category, <c>tag</c>, <c>extended</c>, <c>generated</c>, or any
/// other parsed <c>key:</c> line) to either a tag list or a text. The order matters to <see cref="PromptFormatter"/>.
/// </summary>
public sealed class TagMap
{
    /// <summary>The key of the natural-language text that extends the user's NL prompt (the <c>short:</c> field).</summary>
    public const string Extended = "extended";
    /// <summary>The key of the freshly generated natural-language text (the <c>long:</c> field).</summary>
    public const string Generated = "generated";

    private readonly OrderedDictionary<string, object> _entries = new(StringComparer.Ordinal);

    /// <summary>The keys in insertion order.</summary>
    public IEnumerable<string> Keys => _entries.Keys;

    public bool Contains(string key) => _entries.ContainsKey(key);

    /// <summary>True when the key holds a text rather than a list.</summary>
    public bool IsText(string key) => _entries.TryGetValue(key, out object? v) && v is string;

    /// <summary>The list under <paramref name="key"/>, or an empty list when absent or a text.</summary>
    public IReadOnlyList<string> List(string key) =>
        _entries.TryGetValue(key, out object? v) && v is List<string> list ? list : [];

    /// <summary>The text under <paramref name="key"/>, or "" when absent or a list.</summary>
    public string Text(string key) => _entries.TryGetValue(key, out object? v) && v is string s ? s : "";

    /// <summary>The mutable list under <paramref name="key"/>, created (empty, at the end) when absent.</summary>
    public List<string> MutableList(string key)
    {
        if (_entries.TryGetValue(key, out object? v) && v is List<string> list)
            return list;
        var created = new List<string>();
        _entries[key] = created;
        return created;
    }

    /// <summary>Sets a list value (keeps the key's position when it exists).</summary>
    public void SetList(string key, IEnumerable<string> values) => _entries[key] = new List<string>(values);

    /// <summary>Sets a text value (keeps the key's position when it exists).</summary>
    public void SetText(string key, string value) => _entries[key] = value;

    /// <summary>Removes a key; true when it was there.</summary>
    public bool Remove(string key) => _entries.Remove(key);

    /// <summary>Whether the value is empty (empty list or empty text).</summary>
    public bool IsEmpty(string key) => !_entries.TryGetValue(key, out object? v) || v switch
    {
        string s => s.Length == 0,
        List<string> l => l.Count == 0,
        _ => true,
    };

    /// <summary>The value rendered for a format placeholder: a list joined by ", ", or the text.</summary>
    public string Render(string key) => _entries.TryGetValue(key, out object? v) ? v switch
    {
        string s => s,
        List<string> l => string.Join(", ", l),
        _ => "",
    } : "";

    /// <summary>A deep copy.</summary>
    public TagMap Clone()
    {
        var copy = new TagMap();
        foreach (var (key, value) in _entries)
            copy._entries[key] = value is List<string> l ? new List<string>(l) : value;
        return copy;
    }

    /// <summary>Applies <paramref name="listMap"/> to every list and <paramref name="textMap"/> to every text, in place.</summary>
    public void Transform(Func<string, List<string>, List<string>> listMap, Func<string, string, string> textMap)
    {
        ArgumentNullException.ThrowIfNull(listMap);
        ArgumentNullException.ThrowIfNull(textMap);
        foreach (string key in _entries.Keys.ToList())
        {
            object value = _entries[key];
            _entries[key] = value is List<string> l ? listMap(key, l) : textMap(key, (string)value);
        }
    }
}
