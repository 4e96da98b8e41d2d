using Tipo.Errors;

namespace Tipo.Hub;

/// <summary>A model on the hub: a repository, optionally one file in it (a GGUF), at a revision.</summary>
/// <param name="RepoId">ORG/NAME.</param>
/// <param name="File">The file (a GGUF); null for the Hugging Face model files (config, safetensors, tokenizer).</param>
/// <param name="Revision">Branch, tag or commit; <c>main</c> by default.</param>
public sealed record ModelReference(string RepoId, string? File, string Revision = "main")
{
    public override string ToString() => (File == null ? RepoId : $"{RepoId}:{File}") + (Revision == "main" ? "" : $"@{Revision}");
}

/// <summary>
/// Turns what <c>--model</c> was given into a local path: an existing file or folder as is; else an alias
/// (<see cref="ModelAliases"/>) or a repository id, optionally with a file (<c>ORG/NAME:FILE.gguf</c> or KGen's
/// <c>ORG/NAME | FILE.gguf</c>) and a revision (<c>ORG/NAME@REV</c>), looked up in the Hugging Face cache first
/// and downloaded when absent. An alias means its F16 GGUF; a bare repository id means its Hugging Face files.
/// </summary>
public static class ModelResolver
{
    /// <summary>Returns a local GGUF file or Hugging Face snapshot folder for <paramref name="modelArg"/>; downloads on first use.</summary>
    /// <exception cref="FileNotFoundException">Neither a path nor a model reference.</exception>
    /// <exception cref="DownloadException">Not cached and cannot be downloaded.</exception>
    public static string Resolve(string modelArg, IProgress<DownloadProgress>? progress = null, CancellationToken ct = default) =>
        Task.Run(() => ResolveAsync(modelArg, null, progress, ct), ct).GetAwaiter().GetResult();

    /// <summary>As <see cref="Resolve"/>, with a given client (tests, custom endpoints); null reads the environment.</summary>
    public static async Task<string> ResolveAsync(string modelArg, HubClient? client = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(modelArg);
        string arg = modelArg.Trim();
        string local = HuggingFaceCache.ExpandHome(arg);
        if (arg.Length > 0 && (File.Exists(local) || Directory.Exists(local)))
            return Path.GetFullPath(local);
        var reference = Parse(arg) ?? throw new FileNotFoundException(
            $"model not found: '{modelArg}' is not a file, a folder, a Hugging Face repository id (ORG/NAME, ORG/NAME:FILE.gguf) " +
            $"or an alias ({string.Join(", ", ModelAliases.All.Select(a => a.Alias))})", modelArg);

        bool own = client == null;
        client ??= new HubClient();
        try
        {
            string? cached = reference.File == null
                ? client.Cache.TryGetModelSnapshot(reference.RepoId, reference.Revision)
                : client.Cache.TryGetFile(reference.RepoId, reference.File, reference.Revision);
            if (cached != null)
                return cached;
            return reference.File == null
                ? await client.DownloadRepoAsync(reference.RepoId, reference.Revision, null, progress, ct).ConfigureAwait(false)
                : await client.DownloadFileAsync(reference.RepoId, reference.File, reference.Revision, progress, ct).ConfigureAwait(false);
        }
        finally
        {
            if (own)
                client.Dispose();
        }
    }

    /// <summary>
    /// The local path for <paramref name="modelArg"/> when no download is needed (an existing path, or a reference found
    /// in the cache), else null. Never touches the network; lets a caller show a progress display only when it will download.
    /// </summary>
    public static string? TryResolveWithoutNetwork(string modelArg, HuggingFaceCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(modelArg);
        string local = HuggingFaceCache.ExpandHome(modelArg.Trim());
        if (local.Length > 0 && (File.Exists(local) || Directory.Exists(local)))
            return Path.GetFullPath(local);
        return Parse(modelArg) is { } reference ? TryFindCached(reference, cache ?? new HuggingFaceCache(HuggingFaceCache.DefaultRoot())) : null;
    }

    /// <summary>Where the model would be if cached (never downloads), or null.</summary>
    public static string? TryFindCached(ModelReference reference, HuggingFaceCache cache)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(cache);
        return reference.File == null
            ? cache.TryGetModelSnapshot(reference.RepoId, reference.Revision)
            : cache.TryGetFile(reference.RepoId, reference.File, reference.Revision);
    }

    /// <summary>
    /// Parses an alias or repository reference: <c>ALIAS</c>, <c>ALIAS:FILE</c>, <c>ORG/NAME</c>, <c>ORG/NAME:FILE</c>,
    /// <c>ORG/NAME | FILE</c>, each optionally with <c>@REV</c> after the repository or alias. Null when it is neither.
    /// </summary>
    public static ModelReference? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string s = text.Trim();
        string? file = null;
        int bar = s.IndexOf('|', StringComparison.Ordinal);
        int colon = s.IndexOf(':', StringComparison.Ordinal);
        if (bar >= 0)
            (s, file) = (s[..bar].Trim(), s[(bar + 1)..].Trim());
        else if (colon >= 0)
            (s, file) = (s[..colon].Trim(), s[(colon + 1)..].Trim());
        if (file is "")
            return null;
        string revision = "main";
        int at = s.LastIndexOf('@');
        if (at >= 0)
        {
            revision = s[(at + 1)..];
            s = s[..at];
            if (revision.Length == 0 || revision.Contains("..", StringComparison.Ordinal) || revision.Any(char.IsWhiteSpace))
                return null;
        }
        if (ModelAliases.Find(s) is { } alias)
            return new ModelReference(alias.RepoId, file ?? alias.GgufFile, revision);
        if (HuggingFaceCache.IsRepoId(s))
            return new ModelReference(s, file, revision);
        return null;
    }
}
