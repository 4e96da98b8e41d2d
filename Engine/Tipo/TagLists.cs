using System.Collections.Concurrent;

namespace Tipo.Expansion;

/// <summary>
/// KGen's tag lists (<c>copyrights.txt</c>, <c>meta.txt</c>, <c>artist.txt</c>, <c>characters.txt</c>: one tag a line)
/// plus the fixed special, quality and rating sets, and KGen's <c>seperate_tags</c> classification over them.
/// </summary>
public sealed class TagLists
{
    /// <summary>Environment variable naming the tag-list directory when <c>--tag-lists</c> is not given.</summary>
    public const string EnvironmentVariable = "TIPO_TAG_LISTS";

    // One load per directory, also when a CLI and the expander it starts ask at once; a failed load is not kept.
    private static readonly ConcurrentDictionary<string, Lazy<TagLists>> s_cache = new(StringComparer.Ordinal);

    private readonly Dictionary<string, HashSet<string>> _sets;

    private TagLists(Dictionary<string, HashSet<string>> listSets, string? directory)
    {
        _sets = listSets;
        _sets[TagCategory.Special] = new HashSet<string>(TipoDefaults.Special, StringComparer.Ordinal);
        _sets[TagCategory.Quality] = new HashSet<string>(TipoDefaults.Quality, StringComparer.Ordinal);
        _sets[TagCategory.Rating] = new HashSet<string>(TipoDefaults.Rating, StringComparer.Ordinal);
        Directory = directory;
    }

    /// <summary>The directory the lists came from; null for <see cref="BuiltInOnly"/>.</summary>
    public string? Directory { get; }

    /// <summary>Only the fixed special, quality and rating sets; no file lists.</summary>
    public static TagLists BuiltInOnly { get; } = new(new Dictionary<string, HashSet<string>>(StringComparer.Ordinal), null);

    /// <summary>How many tags a file-backed category holds (0 when its file was missing).</summary>
    public int Count(string category) => _sets.TryGetValue(category, out var set) ? set.Count : 0;

    /// <summary>Loads the lists under <paramref name="directory"/> (missing files are empty lists); cached per full path.</summary>
    public static TagLists Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
            throw new DirectoryNotFoundException($"tag-list directory not found: {full}");
        Lazy<TagLists> lazy = s_cache.GetOrAdd(full, static dir => new Lazy<TagLists>(() => Read(dir)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            s_cache.TryRemove(new KeyValuePair<string, Lazy<TagLists>>(full, lazy));
            throw;
        }
    }

    /// <summary>How many times each directory's files were read (tests: concurrent loads read once).</summary>
    internal static readonly ConcurrentDictionary<string, int> Reads = new(StringComparer.Ordinal);

    private static TagLists Read(string dir)
    {
        Reads.AddOrUpdate(dir, 1, static (_, n) => n + 1);
        var sets = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (string category in TagCategory.ListFiles)
        {
            string file = Path.Combine(dir, category + ".txt");
            var set = new HashSet<string>(StringComparer.Ordinal);
            if (File.Exists(file))
            {
                foreach (string line in File.ReadLines(file))
                {
                    string tag = line.Trim();
                    if (tag.Length > 0)
                        set.Add(tag);
                }
            }
            sets[category] = set;
        }
        return new TagLists(sets, dir);
    }

    /// <summary>
    /// The lists from <paramref name="directory"/>, else from <c>$TIPO_TAG_LISTS</c>, else a <c>tag-list</c> folder next to
    /// the executable, else <see cref="BuiltInOnly"/>.
    /// </summary>
    public static TagLists Resolve(string? directory) => ResolveDirectory(directory) is { } found ? Load(found) : BuiltInOnly;

    /// <summary>
    /// The directory <see cref="Resolve"/> reads (full path), or null for <see cref="BuiltInOnly"/>, without reading it:
    /// a given or <c>$TIPO_TAG_LISTS</c> directory that does not exist throws <see cref="DirectoryNotFoundException"/>.
    /// </summary>
    public static string? ResolveDirectory(string? directory)
    {
        string? chosen = !string.IsNullOrWhiteSpace(directory) ? directory : Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(chosen))
        {
            string full = Path.GetFullPath(chosen);
            return System.IO.Directory.Exists(full) ? full : throw new DirectoryNotFoundException($"tag-list directory not found: {full}");
        }
        string local = Path.Combine(AppContext.BaseDirectory, "tag-list");
        return System.IO.Directory.Exists(local) ? local : null;
    }

    /// <summary>The category of one tag (first match in <see cref="TagCategory.All"/> order), or null for general.</summary>
    public string? CategoryOf(string tag, out string normalized)
    {
        ArgumentNullException.ThrowIfNull(tag);
        string spaced = tag.Replace('_', ' ');
        foreach (string category in TagCategory.All)
        {
            if (!_sets.TryGetValue(category, out var set))
                continue;
            if (set.Contains(tag))
            {
                normalized = tag;
                return category;
            }
            if (set.Contains(spaced))
            {
                normalized = spaced;
                return category;
            }
        }
        // Unknown: general; underscores become spaces only for tags of 4 or more characters (keeps ^_^, o_o).
        normalized = tag.Length >= 4 ? spaced : tag;
        return null;
    }

    /// <summary>
    /// KGen's <c>seperate_tags</c>: every category (all eight, in match order, possibly empty) with its tags in input order.
    /// </summary>
    public Dictionary<string, List<string>> Separate(IEnumerable<string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string category in TagCategory.All)
            map[category] = [];
        foreach (string tag in tags)
        {
            string? category = CategoryOf(tag, out string normalized);
            map[category ?? TagCategory.General].Add(normalized);
        }
        return map;
    }
}
