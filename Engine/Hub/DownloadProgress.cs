namespace Tipo.Hub;

/// <summary>What a transfer is doing.</summary>
public enum DownloadStage
{
    /// <summary>The transfer is about to start (or resume from <see cref="DownloadProgress.BytesDone"/>).</summary>
    Starting,
    /// <summary>Bytes are arriving.</summary>
    Downloading,
    /// <summary>All bytes are here; the checksum is being computed.</summary>
    Verifying,
    /// <summary>The file is complete and in place.</summary>
    Done,
}

/// <summary>Progress of one file's download.</summary>
/// <param name="Name">What is being downloaded, for display (<c>KBlueLeaf/TIPO-500M-ft/TIPO-500M-ft-F16.gguf</c>).</param>
/// <param name="BytesDone">Bytes on disk so far, resumed bytes included.</param>
/// <param name="TotalBytes">The file's size, when known.</param>
/// <param name="Stage">What the transfer is doing.</param>
public readonly record struct DownloadProgress(string Name, long BytesDone, long? TotalBytes, DownloadStage Stage);
