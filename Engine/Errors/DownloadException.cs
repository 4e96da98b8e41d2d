namespace Tipo.Errors;

/// <summary>
/// A model or tag-list download failed, or the file is not cached and cannot be downloaded (offline, host
/// unreachable, HTTP 401/403/404, size or checksum mismatch). The message names the repository, file and
/// revision (or URL), and what to pass instead.
/// </summary>
public sealed class DownloadException : TipoException
{
    /// <summary>The repository (e.g. <c>KBlueLeaf/TIPO-500M-ft</c>), when the download was from the hub.</summary>
    public string? Repo { get; init; }
    /// <summary>The file within the repository, or the URL for other downloads.</summary>
    public string? FileName { get; init; }
    /// <summary>The revision asked for.</summary>
    public string? Revision { get; init; }
    /// <summary>The HTTP status, when the server answered with an error.</summary>
    public int? StatusCode { get; init; }

    public DownloadException(string message) : base(message) { }
    public DownloadException(string message, Exception inner) : base(message, inner) { }
}
