using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tipo.Hub;

/// <summary>
/// The cache layout <c>huggingface_hub</c> uses, so files are shared with Python tools both ways:
/// <code>
/// {root}/models--ORG--NAME/blobs/{etag}                 file contents, named by ETag (SHA-256 for LFS files, git SHA-1 otherwise)
/// {root}/models--ORG--NAME/blobs/{etag}.incomplete      a transfer in progress (resumed from here)
/// {root}/models--ORG--NAME/snapshots/{commit}/{file}    relative symlink to ../../blobs/{etag} (a copy where symlinks fail)
/// {root}/models--ORG--NAME/refs/{revision}              the commit the revision pointed to (no newline)
/// </code>
/// Lookups here never touch the network.
/// </summary>
public sealed partial class HuggingFaceCache
{
    /// <summary>The cache root (<c>…/huggingface/hub</c>).</summary>
    public string Root { get; }

    public HuggingFaceCache(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The cache the environment names: <c>$HF_HUB_CACHE</c>, <c>$HUGGINGFACE_HUB_CACHE</c>, <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>.</summary>
    public static string DefaultRoot() =>
        ExpandHome(HubOptions.Env("HF_HUB_CACHE") ?? HubOptions.Env("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(HfHome(), "hub"));

    /// <summary><c>$HF_HOME</c>, else <c>$XDG_CACHE_HOME/huggingface</c>, else <c>~/.cache/huggingface</c>.</summary>
    public static string HfHome()
    {
        string? home = HubOptions.Env("HF_HOME");
        if (home != null)
            return ExpandHome(home);
        string cache = HubOptions.Env("XDG_CACHE_HOME") is { } xdg ? ExpandHome(xdg) : Path.Combine(UserHome(), ".cache");
        return Path.Combine(cache, "huggingface");
    }

    internal static string UserHome() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    internal static string ExpandHome(string path) =>
        path == "~" ? UserHome()
        : path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal) ? Path.Combine(UserHome(), path[2..])
        : path;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9_.\-]+$")]
    private static partial Regex RepoIdRegex();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitRegex();

    /// <summary>Whether <paramref name="s"/> has the form of a hub repository id, <c>ORG/NAME</c>.</summary>
    public static bool IsRepoId(string s) =>
        s.Length <= 96 && RepoIdRegex().IsMatch(s) && !s.Contains("--", StringComparison.Ordinal) && !s.Contains("..", StringComparison.Ordinal)
        && !s.EndsWith('.') && !s.Split('/')[1].StartsWith('.');

    /// <summary>Whether <paramref name="revision"/> is a full commit hash.</summary>
    public static bool IsCommitHash(string revision) => CommitRegex().IsMatch(revision);

    /// <summary><c>models--ORG--NAME</c>.</summary>
    public static string RepoFolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    public string RepoDir(string repoId) => Path.Combine(Root, RepoFolderName(repoId));
    public string BlobPath(string repoId, string etag) => Path.Combine(RepoDir(repoId), "blobs", etag);
    public string SnapshotDir(string repoId, string commit) => Path.Combine(RepoDir(repoId), "snapshots", commit);
    public string SnapshotPath(string repoId, string commit, string file) =>
        Path.Combine(SnapshotDir(repoId, commit), file.Replace('/', Path.DirectorySeparatorChar));
    public string RefPath(string repoId, string revision) => Path.Combine(RepoDir(repoId), "refs", revision.Replace('/', Path.DirectorySeparatorChar));
    public string LockPath(string repoId, string etag) => Path.Combine(Root, ".locks", RepoFolderName(repoId), etag + ".lock");

    /// <summary>The commit <paramref name="revision"/> points to in the cache (itself if a commit hash), or null.</summary>
    public string? ResolveRevision(string repoId, string revision)
    {
        if (IsCommitHash(revision))
            return revision;
        string refPath = RefPath(repoId, revision);
        try
        {
            if (!File.Exists(refPath))
                return null;
            string commit = File.ReadAllText(refPath).Trim();
            return IsCommitHash(commit) ? commit : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Records that <paramref name="revision"/> points to <paramref name="commit"/> (nothing for a commit hash).</summary>
    public void WriteRef(string repoId, string revision, string commit)
    {
        if (revision == commit)
            return;
        string refPath = RefPath(repoId, revision);
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        string tmp = refPath + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(tmp, commit);
        File.Move(tmp, refPath, overwrite: true);
    }

    /// <summary>The cached file for <paramref name="repoId"/>/<paramref name="file"/> at <paramref name="revision"/>, or null. Never uses the network.</summary>
    public string? TryGetFile(string repoId, string file, string revision = "main")
    {
        string? commit = ResolveRevision(repoId, revision);
        if (commit == null)
            return null;
        string path = SnapshotPath(repoId, commit, file);
        return File.Exists(path) ? path : null; // File.Exists follows the symlink: a dangling link is not a file
    }

    /// <summary>The cached snapshot folder of a Hugging Face (transformers) model at <paramref name="revision"/> when it is complete, or null.</summary>
    public string? TryGetModelSnapshot(string repoId, string revision = "main")
    {
        string? commit = ResolveRevision(repoId, revision);
        if (commit == null)
            return null;
        string dir = SnapshotDir(repoId, commit);
        return IsCompleteModelDir(dir) ? dir : null;
    }

    /// <summary>
    /// Whether <paramref name="dir"/> holds a loadable Hugging Face model: config.json, a tokenizer, and the weights
    /// (model.safetensors, or every shard its index names).
    /// </summary>
    public static bool IsCompleteModelDir(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "config.json")))
            return false;
        if (!File.Exists(Path.Combine(dir, "tokenizer.model")) && !File.Exists(Path.Combine(dir, "tokenizer.json")))
            return false;
        if (File.Exists(Path.Combine(dir, "model.safetensors")))
            return true;
        string index = Path.Combine(dir, "model.safetensors.index.json");
        if (!File.Exists(index))
            return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                return false;
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.GetString() is not { } shard || !File.Exists(Path.Combine(dir, shard)))
                    return false;
            }
            return true;
        }
        catch (JsonException) { return false; }
        catch (IOException) { return false; }
    }

    /// <summary>
    /// Places <paramref name="file"/> in the snapshot as a relative symlink to its blob, as <c>huggingface_hub</c> does;
    /// where symlinks cannot be made, a copy of the blob. Replaces what was there.
    /// </summary>
    public string LinkIntoSnapshot(string repoId, string commit, string file, string blobPath)
    {
        string pointer = SnapshotPath(repoId, commit, file);
        string dir = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(dir);
        string tmp = pointer + "." + Environment.ProcessId + ".tmp";
        TryDelete(tmp);
        try
        {
            File.CreateSymbolicLink(tmp, Path.GetRelativePath(dir, blobPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blobPath, tmp, overwrite: true);
        }
        File.Move(tmp, pointer, overwrite: true);
        return pointer;
    }

    internal static void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path) || new FileInfo(path).LinkTarget != null)
                File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Every repository in the cache (<c>models--*</c>), with its snapshots' files and total blob size.</summary>
    public IReadOnlyList<CachedRepo> ListRepos()
    {
        var result = new List<CachedRepo>();
        if (!Directory.Exists(Root))
            return result;
        foreach (string dir in Directory.EnumerateDirectories(Root, "models--*").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir)["models--".Length..];
            int sep = name.IndexOf("--", StringComparison.Ordinal);
            string repoId = sep < 0 ? name : name[..sep] + "/" + name[(sep + 2)..];
            long size = 0;
            string blobs = Path.Combine(dir, "blobs");
            if (Directory.Exists(blobs))
            {
                foreach (var f in new DirectoryInfo(blobs).EnumerateFiles())
                {
                    if (!f.Name.EndsWith(".incomplete", StringComparison.Ordinal))
                        size += f.Length;
                }
            }
            var refs = new Dictionary<string, string>(StringComparer.Ordinal);
            string refsDir = Path.Combine(dir, "refs");
            if (Directory.Exists(refsDir))
            {
                foreach (string r in Directory.EnumerateFiles(refsDir, "*", SearchOption.AllDirectories))
                {
                    string rev = Path.GetRelativePath(refsDir, r).Replace(Path.DirectorySeparatorChar, '/');
                    if (ResolveRevision(repoId, rev) is { } c)
                        refs[rev] = c;
                }
            }
            var snapshots = new List<string>();
            string snapDir = Path.Combine(dir, "snapshots");
            if (Directory.Exists(snapDir))
                snapshots.AddRange(Directory.EnumerateDirectories(snapDir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal));
            result.Add(new CachedRepo(repoId, dir, size, refs, snapshots));
        }
        return result;
    }
}

/// <summary>A repository found in the cache.</summary>
/// <param name="RepoId">ORG/NAME.</param>
/// <param name="Path">Its <c>models--ORG--NAME</c> folder.</param>
/// <param name="SizeOnDisk">Bytes in its complete blobs.</param>
/// <param name="Refs">Revision → commit.</param>
/// <param name="Snapshots">The commits it has snapshots of.</param>
public sealed record CachedRepo(string RepoId, string Path, long SizeOnDisk, IReadOnlyDictionary<string, string> Refs, IReadOnlyList<string> Snapshots);
