namespace Tipo.Tests;

/// <summary>
/// Finds the shared test data (models, references) at <c>../shared</c> from the repository root.
/// A fresh clone has none: tests that need it are ignored with the reason, unless
/// <c>TIPO_REQUIRE_SHARED=1</c> (set by .ci/run) turns its absence into a failure.
/// </summary>
internal static class TestData
{
    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    /// <summary>The repository root: the directory that holds Tipo.sln.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>The shared data directory, <c>../shared</c> from the repo root (may not exist).</summary>
    public static string SharedDir => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>Returns the full path of a file or directory under ../shared, or skips (or fails in CI) when absent.</summary>
    public static string Shared(string relativePath)
    {
        string path = Path.Combine(SharedDir, relativePath);
        if (File.Exists(path) || Directory.Exists(path))
            return path;
        string reason = $"shared test data not found: {path} (tests read ../shared from the repo root; see README)";
        if (Environment.GetEnvironmentVariable("TIPO_REQUIRE_SHARED") == "1")
            Assert.Fail(reason);
        Assert.Ignore(reason);
        return path; // unreachable
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tipo.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Tipo.sln not found above " + AppContext.BaseDirectory);
    }
}
