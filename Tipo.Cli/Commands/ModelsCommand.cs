using System.CommandLine;
using Spectre.Console;
using Tipo.Hub;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo models</c>: the known aliases, which are cached, their sizes and paths; other cached models; the tag lists.</summary>
internal static class ModelsCommand
{
    private sealed record Row(string Name, string Repo, string File, string Cached, string Size, string Path);

    public static Command Create()
    {
        var command = new Command("models", "List the model aliases (KGen's six TIPO models) and the models in the Hugging Face cache, with sizes and paths.");
        command.SetAction(_ =>
        {
            var cache = new HuggingFaceCache(HuggingFaceCache.DefaultRoot());
            var rows = new List<Row>();
            foreach (var alias in ModelAliases.All)
            {
                string name = alias == ModelAliases.Default ? alias.Alias + " (default)" : alias.Alias;
                string? gguf = cache.TryGetFile(alias.RepoId, alias.GgufFile);
                rows.Add(gguf != null
                    ? new Row(name, alias.RepoId, alias.GgufFile, "yes", DownloadDisplay.Size(new FileInfo(gguf).Length), gguf)
                    : new Row(name, alias.RepoId, alias.GgufFile, "no", "~" + DownloadDisplay.Size(alias.ApproxBytes), ""));
            }
            var known = ModelAliases.All.ToDictionary(a => a.RepoId, a => a.GgufFile, StringComparer.OrdinalIgnoreCase);
            foreach (var repo in cache.ListRepos())
            {
                if (repo.Snapshots.Count == 0)
                    continue;
                string? snapshot = cache.TryGetModelSnapshot(repo.RepoId);
                if (snapshot != null)
                    rows.Add(new Row(repo.RepoId, repo.RepoId, "(Hugging Face files)", "yes", DownloadDisplay.Size(repo.SizeOnDisk), snapshot));
                else if (!known.ContainsKey(repo.RepoId))
                    rows.Add(new Row(repo.RepoId, repo.RepoId, "", "partly", DownloadDisplay.Size(repo.SizeOnDisk), repo.Path));
            }

            using var tags = new TagListCache();
            string tagState = tags.IsComplete ? tags.Directory : $"not yet fetched (first use fetches them into {tags.Directory})";

            if (Console.IsOutputRedirected)
            {
                Console.WriteLine("MODEL\tREPO\tFILE\tCACHED\tSIZE\tPATH");
                foreach (var r in rows)
                    Console.WriteLine($"{r.Name}\t{r.Repo}\t{r.File}\t{r.Cached}\t{r.Size}\t{r.Path}");
                Console.WriteLine();
                Console.WriteLine($"cache: {cache.Root}");
                Console.WriteLine($"tag lists: {tagState}");
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("Model", "Repository", "File", "Cached", "Size", "Path");
            foreach (var r in rows)
                table.AddRow(Markup.Escape(r.Name), Markup.Escape(r.Repo), Markup.Escape(r.File),
                    r.Cached == "yes" ? "[green]yes[/]" : Markup.Escape(r.Cached), Markup.Escape(r.Size), Markup.Escape(r.Path));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"cache: {Markup.Escape(cache.Root)}");
            AnsiConsole.MarkupLine($"tag lists: {Markup.Escape(tagState)}");
            AnsiConsole.MarkupLine("Use --model with a path, an alias or a repository id; [grey]tipo download ALIAS[/] fetches one ahead of time.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
