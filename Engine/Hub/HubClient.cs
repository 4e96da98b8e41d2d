using System.Globalization;
using System.Net;
using System.Text.Json;
using Tipo.Errors;

namespace Tipo.Hub;

/// <summary>What a HEAD on a file's resolve URL says about it.</summary>
/// <param name="Commit">The commit the revision resolved to (<c>X-Repo-Commit</c>).</param>
/// <param name="ETag">The normalised ETag (<c>X-Linked-Etag</c> else <c>ETag</c>): the SHA-256 for LFS files, a git SHA-1 otherwise.</param>
/// <param name="Size">The file's size (<c>X-Linked-Size</c> else <c>Content-Length</c>).</param>
/// <param name="IsLfs">Whether the file is stored with LFS (its ETag is then its SHA-256).</param>
/// <param name="DownloadUrl">Where to GET it (the CDN location for LFS files).</param>
public sealed record HubFileMetadata(string Commit, string ETag, long? Size, bool IsLfs, Uri DownloadUrl);

/// <summary>A revision's commit and file list (<c>GET /api/models/{repo}/revision/{rev}</c>).</summary>
public sealed record HubRevisionInfo(string RepoId, string Commit, IReadOnlyList<string> Files);

/// <summary>
/// Downloads from the Hugging Face hub over its plain HTTP interface, as <c>huggingface_hub</c> does, into the
/// shared cache (<see cref="HuggingFaceCache"/>). Honours <c>HF_ENDPOINT</c>, <c>HF_TOKEN</c> and <c>HF_HUB_OFFLINE</c>
/// through <see cref="HubOptions.FromEnvironment"/>. When the hub cannot be reached, a cached copy is used if there is one.
/// </summary>
public sealed class HubClient : IDisposable
{
    private readonly Transfer _transfer;

    public HubOptions Options { get; }
    public HuggingFaceCache Cache { get; }
    public Uri Endpoint { get; }
    public bool Offline => Options.Offline;

    public HubClient(HubOptions? options = null, HttpMessageHandler? handler = null)
    {
        Options = options ?? HubOptions.FromEnvironment();
        if (!Uri.TryCreate(Options.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var endpoint) || (endpoint.Scheme != "http" && endpoint.Scheme != "https"))
            throw new DownloadException($"HF_ENDPOINT is not an http(s) URL: '{Options.Endpoint}'");
        Endpoint = endpoint;
        Cache = new HuggingFaceCache(Options.CacheDir);
        _transfer = new Transfer(Endpoint, Options.Token, Options.MaxAttempts, Options.RetryDelay, Options.Timeout, handler);
    }

    public void Dispose() => _transfer.Dispose();

    /// <summary>The hub's host, for messages.</summary>
    public string Host => Endpoint.Authority;

    /// <summary><c>{endpoint}/{repo}/resolve/{rev}/{file}</c>.</summary>
    public Uri ResolveUrl(string repoId, string file, string revision) =>
        new(Endpoint, $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>A revision's commit and file list.</summary>
    public async Task<HubRevisionInfo> GetRevisionInfoAsync(string repoId, string revision = "main", CancellationToken ct = default)
    {
        CheckRepoId(repoId);
        ThrowIfOffline(repoId, null, revision);
        var url = new Uri(Endpoint, $"api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}");
        try
        {
            using var response = await _transfer.SendAsync(HttpMethod.Get, url, followAbsolute: false, null, ct).ConfigureAwait(false);
            string json = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            string? sha = root.TryGetProperty("sha", out var s) ? s.GetString() : null;
            if (sha == null || !HuggingFaceCache.IsCommitHash(sha))
                throw new DownloadException($"{url}: the answer has no commit hash ('sha')") { Repo = repoId, Revision = revision };
            var files = new List<string>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                foreach (var sib in siblings.EnumerateArray())
                {
                    if (sib.TryGetProperty("rfilename", out var f) && f.GetString() is { Length: > 0 } name)
                        files.Add(name);
                }
            }
            return new HubRevisionInfo(repoId, sha, files);
        }
        catch (JsonException e)
        {
            throw new DownloadException($"{url}: not the hub's JSON answer ({e.Message}); is HF_ENDPOINT ({Options.Endpoint}) a Hugging Face hub?", e) { Repo = repoId, Revision = revision };
        }
        catch (HttpStatusError e)
        {
            throw StatusError(e, repoId, null, revision);
        }
        catch (HostUnreachableError e)
        {
            throw Unreachable(e, repoId, null, revision);
        }
    }

    /// <summary>HEAD on the file's resolve URL: commit, ETag, size, and where to GET it.</summary>
    public async Task<HubFileMetadata> GetFileMetadataAsync(string repoId, string file, string revision = "main", CancellationToken ct = default)
    {
        CheckRepoId(repoId);
        ThrowIfOffline(repoId, file, revision);
        var url = ResolveUrl(repoId, file, revision);
        try
        {
            using var response = await _transfer.SendAsync(HttpMethod.Head, url, followAbsolute: false, null, ct).ConfigureAwait(false);
            string? commit = Transfer.Header(response, "X-Repo-Commit");
            string? linkedEtag = Transfer.Header(response, "X-Linked-Etag");
            string? etag = linkedEtag ?? Transfer.Header(response, "ETag");
            string? linkedSize = Transfer.Header(response, "X-Linked-Size");
            long? size = linkedSize != null && long.TryParse(linkedSize, NumberStyles.None, CultureInfo.InvariantCulture, out long ls) ? ls
                : response.Content.Headers.ContentLength;
            if (commit == null || !HuggingFaceCache.IsCommitHash(commit))
                throw new DownloadException($"{url}: the server sent no commit hash (X-Repo-Commit); is HF_ENDPOINT ({Options.Endpoint}) a Hugging Face hub?") { Repo = repoId, FileName = file, Revision = revision };
            if (etag == null)
                throw new DownloadException($"{url}: the server sent no ETag, so the file cannot be cached") { Repo = repoId, FileName = file, Revision = revision };
            etag = NormalizeEtag(etag);
            if (etag.Length == 0 || etag.Contains('/', StringComparison.Ordinal) || etag.Contains('\\', StringComparison.Ordinal) || etag.Contains("..", StringComparison.Ordinal))
                throw new DownloadException($"{url}: unusable ETag '{etag}'") { Repo = repoId, FileName = file, Revision = revision };
            bool isLfs = linkedEtag != null || (etag.Length == 64 && etag.All(char.IsAsciiHexDigit));
            Uri download = (int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } loc
                ? (loc.IsAbsoluteUri ? loc : new Uri(url, loc))
                : url;
            return new HubFileMetadata(commit, etag, size, isLfs, download);
        }
        catch (HttpStatusError e)
        {
            throw StatusError(e, repoId, file, revision);
        }
        catch (HostUnreachableError e)
        {
            throw Unreachable(e, repoId, file, revision);
        }
    }

    /// <summary><c>huggingface_hub</c>'s ETag normalisation: no weak prefix, no quotes.</summary>
    public static string NormalizeEtag(string etag)
    {
        string e = etag.Trim();
        if (e.StartsWith("W/", StringComparison.Ordinal))
            e = e[2..];
        return e.Trim('"');
    }

    /// <summary>
    /// One file of a repository, from the cache or downloaded into it; returns its path in the snapshot folder.
    /// When the hub cannot be reached (or <c>HF_HUB_OFFLINE</c> is set) a cached copy of the revision is used.
    /// </summary>
    public async Task<string> DownloadFileAsync(string repoId, string file, string revision = "main",
        IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        CheckRepoId(repoId);
        CheckFileName(file);
        HubFileMetadata meta;
        try
        {
            meta = await GetFileMetadataAsync(repoId, file, revision, ct).ConfigureAwait(false);
        }
        catch (DownloadException e) when (e.StatusCode == null && Cache.TryGetFile(repoId, file, revision) is { } cached)
        {
            return cached; // offline or unreachable, but we have it
        }

        Cache.WriteRef(repoId, revision, meta.Commit);
        string pointer = Cache.SnapshotPath(repoId, meta.Commit, file);
        string blob = Cache.BlobPath(repoId, meta.ETag);
        string name = $"{repoId}/{file}";
        if (File.Exists(pointer) && (meta.Size == null || new FileInfo(pointer).Length == meta.Size))
        {
            progress?.Report(new DownloadProgress(name, meta.Size ?? 0, meta.Size, DownloadStage.Done));
            return pointer;
        }

        string lockPath = Cache.LockPath(repoId, meta.ETag);
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        using (await AcquireLockAsync(lockPath, ct).ConfigureAwait(false))
        {
            if (!File.Exists(blob) || (meta.Size is { } sz && new FileInfo(blob).Length != sz))
            {
                try
                {
                    await _transfer.DownloadAsync(meta.DownloadUrl, blob + ".incomplete", blob, meta.Size,
                        meta.IsLfs ? meta.ETag : null, name, progress, ct,
                        expectedGitSha1: !meta.IsLfs && meta.ETag.Length == 40 && meta.ETag.All(char.IsAsciiHexDigit) ? meta.ETag : null).ConfigureAwait(false);
                }
                catch (HttpStatusError e)
                {
                    throw StatusError(e, repoId, file, revision);
                }
                catch (HostUnreachableError e)
                {
                    throw new DownloadException(
                        $"could not reach {e.Host} (where {Host} sends the file) to download {What(repoId, file, revision)}: {e.InnerException?.Message ?? e.Message}. " +
                        $"Run the command again to resume; or {Instead}", e)
                    { Repo = repoId, FileName = file, Revision = revision };
                }
            }
            else
            {
                progress?.Report(new DownloadProgress(name, meta.Size ?? 0, meta.Size, DownloadStage.Done));
            }
            return Cache.LinkIntoSnapshot(repoId, meta.Commit, file, blob);
        }
    }

    /// <summary>
    /// The files of a repository that <paramref name="include"/> accepts (default: the Hugging Face model files,
    /// <see cref="IsModelFile"/>), from the cache or downloaded; returns the snapshot folder.
    /// </summary>
    public async Task<string> DownloadRepoAsync(string repoId, string revision = "main", Func<string, bool>? include = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        CheckRepoId(repoId);
        include ??= IsModelFile;
        HubRevisionInfo info;
        try
        {
            info = await GetRevisionInfoAsync(repoId, revision, ct).ConfigureAwait(false);
        }
        catch (DownloadException e) when (e.StatusCode == null && Cache.TryGetModelSnapshot(repoId, revision) is { } cached)
        {
            return cached;
        }
        var files = info.Files.Where(include).ToList();
        if (files.Count == 0)
        {
            throw new DownloadException(
                $"{repoId} at revision {revision} has no Hugging Face model files (config.json, *.safetensors, tokenizer); " +
                $"its files: {string.Join(", ", info.Files.Take(20))}. Name a GGUF with --file NAME.gguf")
            { Repo = repoId, Revision = revision };
        }
        Cache.WriteRef(repoId, revision, info.Commit);
        foreach (string file in files)
            await DownloadFileAsync(repoId, file, info.Commit, progress, ct).ConfigureAwait(false);
        return Cache.SnapshotDir(repoId, info.Commit);
    }

    /// <summary>The files a repository id without <c>--file</c> fetches: config, generation config, safetensors and their index, tokenizer files.</summary>
    public static bool IsModelFile(string file)
    {
        if (file.Contains('/', StringComparison.Ordinal))
            return false;
        return file is "config.json" or "generation_config.json" or "tokenizer.model" or "tokenizer.json" or "tokenizer_config.json"
                   or "special_tokens_map.json" or "added_tokens.json"
               || file.EndsWith(".safetensors", StringComparison.Ordinal)
               || file.EndsWith(".safetensors.index.json", StringComparison.Ordinal);
    }

    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(250, ct).ConfigureAwait(false); // another process is downloading the same blob
            }
        }
    }

    private static void CheckRepoId(string repoId)
    {
        if (!HuggingFaceCache.IsRepoId(repoId))
            throw new DownloadException($"'{repoId}' is not a Hugging Face repository id (ORG/NAME)") { Repo = repoId };
    }

    private static void CheckFileName(string file)
    {
        if (file.Length == 0 || file.StartsWith('/') || file.Contains('\\', StringComparison.Ordinal) || file.Split('/').Any(p => p is "" or "." or ".."))
            throw new DownloadException($"'{file}' is not a file name inside a repository") { FileName = file };
    }

    private static string What(string repoId, string? file, string revision) =>
        file == null ? $"{repoId} (revision {revision})" : $"{file} from {repoId} (revision {revision})";

    private string Instead =>
        "pass --model PATH to a local GGUF file or Hugging Face model folder, or set HF_ENDPOINT to a hub mirror you can reach";

    private void ThrowIfOffline(string repoId, string? file, string revision)
    {
        if (Options.Offline)
        {
            throw new DownloadException(
                $"HF_HUB_OFFLINE is set and {What(repoId, file, revision)} is not in the Hugging Face cache ({Cache.Root}); " +
                $"pass --model PATH to a local GGUF file or Hugging Face model folder, or unset HF_HUB_OFFLINE to download it from {Host}")
            { Repo = repoId, FileName = file, Revision = revision };
        }
    }

    private DownloadException Unreachable(HostUnreachableError e, string repoId, string? file, string revision) =>
        new($"could not reach {e.Host} to download {What(repoId, file, revision)}: {e.InnerException?.Message ?? e.Message}. " +
            $"Nothing for it is in the Hugging Face cache ({Cache.Root}); {Instead}", e)
        { Repo = repoId, FileName = file, Revision = revision };

    private DownloadException StatusError(HttpStatusError e, string repoId, string? file, string revision)
    {
        string what = What(repoId, file, revision);
        string server = e.ServerMessage != null ? $" (the hub says: {e.ServerMessage})" : "";
        string message = (e.Status, e.ErrorCode) switch
        {
            (_, "RepoNotFound") or (HttpStatusCode.Unauthorized, _) =>
                $"repository {repoId} not found on {Host}, or it is private or gated and " +
                (Options.Token == null ? "no token was given (set HF_TOKEN)" : "the token (HF_TOKEN) gives no access to it") +
                $"; asked for {what}, HTTP {(int)e.Status}{server}",
            (HttpStatusCode.Forbidden, _) =>
                $"access to {repoId} is forbidden (HTTP 403; gated repositories need their terms accepted on the website and HF_TOKEN set); asked for {what}{server}",
            (_, "RevisionNotFound") =>
                $"revision {revision} not found in {repoId} on {Host} (HTTP {(int)e.Status}){server}",
            (_, "EntryNotFound") or (HttpStatusCode.NotFound, _) when file != null =>
                $"file {file} not found in {repoId} at revision {revision} on {Host} (HTTP {(int)e.Status}){server}",
            (HttpStatusCode.NotFound, _) =>
                $"{what} not found on {Host} (HTTP 404){server}",
            _ => $"{Host} answered HTTP {(int)e.Status} for {what}{server}",
        };
        return new DownloadException(message, e) { Repo = repoId, FileName = file, Revision = revision, StatusCode = (int)e.Status };
    }
}
