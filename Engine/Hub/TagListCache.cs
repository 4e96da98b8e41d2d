using Tipo.Errors;

namespace Tipo.Hub;

/// <summary>
/// KGen's tag lists (<c>artist</c>, <c>characters</c>, <c>copyrights</c>, <c>meta</c>; <c>src/kgen/tag-list/*.txt</c>)
/// from KGen's repository at the commit the spec was written against, fetched on first use into
/// <c>$TIPO_CACHE/tag-list/{commit}</c> (default <c>~/.cache/tipo</c>) with the same care as models: temporary name,
/// resume, size check, rename. <c>--tag-lists DIR</c> overrides (<see cref="Resolve"/>).
/// </summary>
public sealed class TagListCache : IDisposable
{
    /// <summary>KGen's commit (spec §0).</summary>
    public const string PinnedCommit = "8c82b48a7157ad3ea07312b2bf53d9ff35b93b46";
    /// <summary>Raw file base; the URL is <c>{base}/{commit}/src/kgen/tag-list/{name}.txt</c>. <c>TIPO_TAG_LIST_URL</c> overrides.</summary>
    public const string DefaultBaseUrl = "https://raw.githubusercontent.com/KohakuBlueleaf/KGen";

    /// <summary>The lists KGen ships, in the category order the port uses.</summary>
    public static IReadOnlyList<string> Names { get; } = ["artist", "characters", "copyrights", "meta"];

    /// <summary>Sizes at <see cref="PinnedCommit"/> the spec records (§8); the others are checked against Content-Length.</summary>
    private static readonly Dictionary<string, long> KnownSizes = new(StringComparer.Ordinal)
    {
        ["copyrights"] = 857_314,
        ["meta"] = 10_478,
    };

    private readonly Transfer _transfer;
    private readonly bool _offline;

    /// <summary>The folder the lists are cached in.</summary>
    public string Directory { get; }
    public string BaseUrl { get; }
    public string Commit { get; }

    public TagListCache(string? cacheDir = null, string? baseUrl = null, bool? offline = null, string commit = PinnedCommit,
        int maxAttempts = 5, TimeSpan? retryDelay = null, HttpMessageHandler? handler = null)
    {
        Commit = commit;
        BaseUrl = (baseUrl ?? HubOptions.Env("TIPO_TAG_LIST_URL") ?? DefaultBaseUrl).TrimEnd('/');
        Directory = Path.Combine(cacheDir ?? DefaultCacheDir(), "tag-list", commit);
        _offline = offline ?? HubOptions.IsTrue(HubOptions.Env("HF_HUB_OFFLINE"));
        _transfer = new Transfer(null, null, maxAttempts, retryDelay ?? TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), handler);
    }

    public void Dispose() => _transfer.Dispose();

    /// <summary><c>$TIPO_CACHE</c>, else <c>$XDG_CACHE_HOME/tipo</c>, else <c>~/.cache/tipo</c>.</summary>
    public static string DefaultCacheDir() =>
        HubOptions.Env("TIPO_CACHE") is { } c ? HuggingFaceCache.ExpandHome(c)
        : Path.Combine(HubOptions.Env("XDG_CACHE_HOME") is { } x ? HuggingFaceCache.ExpandHome(x) : Path.Combine(HuggingFaceCache.UserHome(), ".cache"), "tipo");

    public Uri UrlFor(string name) => new($"{BaseUrl}/{Commit}/src/kgen/tag-list/{name}.txt");

    public string PathFor(string name) => Path.Combine(Directory, name + ".txt");

    /// <summary>Whether every list is in the cache.</summary>
    public bool IsComplete => Names.All(n => File.Exists(PathFor(n)));

    /// <summary>The cached folder, fetching the lists that are missing.</summary>
    public async Task<string> EnsureAsync(IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        foreach (string name in Names)
        {
            string path = PathFor(name);
            if (File.Exists(path))
                continue;
            var url = UrlFor(name);
            if (_offline)
            {
                throw new DownloadException(
                    $"HF_HUB_OFFLINE is set and KGen's tag list {name}.txt is not cached in {Directory}; pass --tag-lists DIR " +
                    $"(a folder with artist.txt, characters.txt, copyrights.txt, meta.txt from KGen's src/kgen/tag-list), or unset HF_HUB_OFFLINE to fetch it from {url.Authority}")
                { FileName = url.ToString() };
            }
            try
            {
                await _transfer.DownloadAsync(url, path + ".incomplete", path, KnownSizes.TryGetValue(name, out long known) ? known : null, null, $"tag-list/{name}.txt",
                    progress, ct, validate: CheckList).ConfigureAwait(false);
            }
            catch (HostUnreachableError e)
            {
                throw new DownloadException(
                    $"could not reach {e.Host} to fetch KGen's tag list {name}.txt ({url}): {e.InnerException?.Message ?? e.Message}. " +
                    "Pass --tag-lists DIR (a folder with artist.txt, characters.txt, copyrights.txt, meta.txt from KGen's src/kgen/tag-list), or set TIPO_TAG_LIST_URL to a mirror", e)
                { FileName = url.ToString() };
            }
            catch (HttpStatusError e)
            {
                throw new DownloadException($"{url.Authority} answered HTTP {(int)e.Status} for KGen's tag list {name}.txt ({url}); pass --tag-lists DIR instead", e)
                { FileName = url.ToString(), StatusCode = (int)e.Status };
            }
        }
        return Directory;
    }

    /// <summary>A tag list is UTF-8 text, one tag a line; not an LFS pointer, not an HTML page.</summary>
    private static string? CheckList(string path)
    {
        var head = new byte[256];
        int n;
        using (var f = File.OpenRead(path))
            n = f.Read(head);
        string start = System.Text.Encoding.UTF8.GetString(head, 0, n);
        if (start.StartsWith("version https://git-lfs", StringComparison.Ordinal))
            return "it is a git LFS pointer, not the list";
        if (start.TrimStart().StartsWith('<'))
            return "it is an HTML page, not the list";
        if (head.AsSpan(0, n).Contains((byte)0))
            return "it is not text";
        return null;
    }

    /// <summary>
    /// The tag-list folder to use: <paramref name="overrideDir"/> (<c>--tag-lists</c>) when given (lists missing
    /// there count as empty), else the cache, fetched on first use.
    /// </summary>
    public static string Resolve(string? overrideDir, IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        if (overrideDir != null)
        {
            string dir = HuggingFaceCache.ExpandHome(overrideDir);
            if (!System.IO.Directory.Exists(dir))
                throw new DirectoryNotFoundException($"--tag-lists: folder not found: {overrideDir}");
            return Path.GetFullPath(dir);
        }
        using var cache = new TagListCache();
        if (cache.IsComplete)
            return cache.Directory;
        return Task.Run(() => cache.EnsureAsync(progress, ct), ct).GetAwaiter().GetResult();
    }
}
