namespace Tipo.Hub;

/// <summary>One of KGen's models: a short alias, its hub repository and the F16 GGUF file KGen loads from it.</summary>
/// <param name="Alias">The short name, the repository's name (<c>TIPO-500M-ft</c>); matched case-insensitively.</param>
/// <param name="RepoId">The hub repository (<c>KBlueLeaf/TIPO-500M-ft</c>).</param>
/// <param name="GgufFile">The GGUF file in the repository (<c>TIPO-500M-ft-F16.gguf</c>).</param>
/// <param name="ApproxBytes">The GGUF's approximate size, for messages before the download starts.</param>
public sealed record ModelAlias(string Alias, string RepoId, string GgufFile, long ApproxBytes)
{
    /// <summary>The reference KGen's UI uses for it: <c>repo | file.gguf</c>.</summary>
    public string KGenName => $"{RepoId} | {GgufFile}";
}

/// <summary>The six models KGen offers (<c>KGen:src/kgen/models.py tipo_model_list</c>, spec §1.1), in KGen's order.</summary>
public static class ModelAliases
{
    /// <summary>The six models, KGen's order; the first is the default.</summary>
    public static IReadOnlyList<ModelAlias> All { get; } =
    [
        new("TIPO-500M-ft", "KBlueLeaf/TIPO-500M-ft", "TIPO-500M-ft-F16.gguf", 1_020_000_000),
        new("TIPO-200M-ft2", "KBlueLeaf/TIPO-200M-ft2", "TIPO-200M-ft2-F16.gguf", 406_000_000),
        new("TIPO-200M-ft", "KBlueLeaf/TIPO-200M-ft", "TIPO-200M-ft-F16.gguf", 406_000_000),
        new("TIPO-500M", "KBlueLeaf/TIPO-500M", "TIPO-500M_epoch5-F16.gguf", 1_020_000_000),
        new("TIPO-200M", "KBlueLeaf/TIPO-200M", "TIPO-200M-40Btok-F16.gguf", 406_000_000),
        new("TIPO-100M", "KBlueLeaf/TIPO-100M", "TIPO-100M-F16.gguf", 202_000_000),
    ];

    /// <summary>The default model: TIPO-500M-ft, its F16 GGUF (KGen's first entry).</summary>
    public static ModelAlias Default => All[0];

    /// <summary>Finds an alias by its short name (case-insensitive), or null.</summary>
    public static ModelAlias? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string n = name.Trim();
        return All.FirstOrDefault(a => string.Equals(a.Alias, n, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The alias whose repository is <paramref name="repoId"/> (case-insensitive), or null.</summary>
    public static ModelAlias? FindByRepo(string repoId) =>
        All.FirstOrDefault(a => string.Equals(a.RepoId, repoId, StringComparison.OrdinalIgnoreCase));
}
