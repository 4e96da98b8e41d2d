using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Tipo.Errors;
using Tipo.Hub;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo download [MODEL] [--file NAME] [--revision R] [--tag-lists]</c>: fetches a model into the Hugging Face cache.</summary>
internal static class DownloadCommand
{
    public static Command Create()
    {
        var model = new Argument<string?>("MODEL")
        {
            Description = $"A repository id (ORG/NAME, ORG/NAME:FILE.gguf) or an alias ({string.Join(", ", ModelAliases.All.Select(a => a.Alias))}); " +
                          $"default {ModelAliases.Default.Alias}. An alias means its F16 GGUF; a repository id without --file its Hugging Face files " +
                          "(config, safetensors, tokenizer).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var file = new Option<string?>("--file") { Description = "One file of the repository to fetch, e.g. a GGUF." };
        var revision = new Option<string?>("--revision") { Description = "Branch, tag or commit (default main)." };
        var tagLists = new Option<bool>("--tag-lists") { Description = "Also fetch KGen's tag lists (artist, characters, copyrights, meta) into the cache." };

        var command = new Command("download",
            "Download a model into the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub), shared with Python tools. " +
            "Honours HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE. Prints the local path.")
        {
            model, file, revision, tagLists,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                string arg = parse.GetValue(model) ?? ModelAliases.Default.Alias;
                var reference = ModelResolver.Parse(arg);
                if (reference == null)
                {
                    await Console.Error.WriteLineAsync(
                        $"tipo: error: '{arg}' is not a repository id (ORG/NAME) or an alias ({string.Join(", ", ModelAliases.All.Select(a => a.Alias))})").ConfigureAwait(false);
                    return ExitCodes.Usage;
                }
                if (parse.GetValue(file) is { Length: > 0 } f)
                    reference = reference with { File = f };
                if (parse.GetValue(revision) is { Length: > 0 } r)
                    reference = reference with { Revision = r };

                bool withTags = parse.GetValue(tagLists);
                string path = await DownloadDisplay.RunAsync(async progress =>
                {
                    using var client = new HubClient();
                    string p = reference.File == null
                        ? await client.DownloadRepoAsync(reference.RepoId, reference.Revision, null, progress, ct).ConfigureAwait(false)
                        : await client.DownloadFileAsync(reference.RepoId, reference.File, reference.Revision, progress, ct).ConfigureAwait(false);
                    if (withTags)
                    {
                        using var tags = new TagListCache();
                        string dir = await tags.EnsureAsync(progress, ct).ConfigureAwait(false);
                        await Console.Error.WriteLineAsync($"tag lists: {dir}").ConfigureAwait(false);
                    }
                    return p;
                }).ConfigureAwait(false);
                Console.WriteLine(path);
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is TipoException or IOException or UnauthorizedAccessException)
            {
                return DownloadDisplay.Fail(e);
            }
        });
        return command;
    }
}

/// <summary>
/// Shows download progress on stderr: a Spectre.Console progress bar on a terminal, plain lines otherwise
/// (start, every 10 %, done). For any command that may download on first use (<c>tipo expand</c> without <c>--model</c>).
/// </summary>
internal static class DownloadDisplay
{
    /// <summary>Runs <paramref name="work"/> with a progress reporter suited to where stderr goes.</summary>
    public static async Task<T> RunAsync<T>(Func<IProgress<DownloadProgress>, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (Console.IsErrorRedirected || Environment.GetEnvironmentVariable("TERM") == "dumb")
            return await work(new PlainProgress()).ConfigureAwait(false);

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx => { result = await work(new BarProgress(ctx)).ConfigureAwait(false); })
            .ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// <c>--model</c> to a local path (<see cref="ModelResolver"/>): a path, or an alias / repository id found in the cache,
    /// without any display; otherwise downloads it with progress on stderr. For <c>tipo expand</c> and friends.
    /// </summary>
    public static async Task<string> ResolveModelAsync(string? modelArg, CancellationToken ct = default)
    {
        string arg = modelArg ?? ModelAliases.Default.Alias;
        if (ModelResolver.TryResolveWithoutNetwork(arg) is { } local)
            return local;
        return await RunAsync(progress => ModelResolver.ResolveAsync(arg, null, progress, ct)).ConfigureAwait(false);
    }

    /// <summary>The tag-list folder: <c>--tag-lists DIR</c> when given, else the cache, fetched on first use with progress on stderr.</summary>
    public static async Task<string> ResolveTagListsAsync(string? overrideDir, CancellationToken ct = default)
    {
        if (overrideDir != null)
            return TagListCache.Resolve(overrideDir, null, ct);
        using var cache = new TagListCache();
        if (cache.IsComplete)
            return cache.Directory;
        return await RunAsync(progress => cache.EnsureAsync(progress, ct)).ConfigureAwait(false);
    }

    /// <summary>Prints a download (or other) error and returns its exit code.</summary>
    public static int Fail(Exception e)
    {
        Console.Error.WriteLine($"tipo: error: {e.Message}");
        return ExitCodes.For(e);
    }

    internal static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.00 GiB", CultureInfo.InvariantCulture),
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.0 MiB", CultureInfo.InvariantCulture),
        >= 1L << 10 => (bytes / (double)(1L << 10)).ToString("0.0 KiB", CultureInfo.InvariantCulture),
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    private sealed class BarProgress(ProgressContext ctx) : IProgress<DownloadProgress>
    {
        private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        public void Report(DownloadProgress value)
        {
            lock (_lock)
            {
                if (!_tasks.TryGetValue(value.Name, out var task))
                {
                    task = ctx.AddTask(Markup.Escape(value.Name), maxValue: Math.Max(1, value.TotalBytes ?? 1));
                    task.IsIndeterminate = value.TotalBytes == null;
                    _tasks[value.Name] = task;
                }
                if (value.TotalBytes is { } total && total > 0)
                {
                    task.IsIndeterminate = false;
                    task.MaxValue = total;
                }
                task.Value = value.Stage == DownloadStage.Done ? task.MaxValue : value.BytesDone;
                if (value.Stage == DownloadStage.Done)
                    task.StopTask();
            }
        }
    }

    private sealed class PlainProgress : IProgress<DownloadProgress>
    {
        private readonly Dictionary<string, int> _tenths = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        public void Report(DownloadProgress value)
        {
            lock (_lock)
            {
                string total = value.TotalBytes is { } t ? Size(t) : "size unknown";
                switch (value.Stage)
                {
                    case DownloadStage.Starting when !_tenths.ContainsKey(value.Name):
                        _tenths[value.Name] = 0;
                        Console.Error.WriteLine(value.BytesDone > 0
                            ? $"downloading {value.Name} ({total}), resuming at {Size(value.BytesDone)}"
                            : $"downloading {value.Name} ({total})");
                        break;
                    case DownloadStage.Downloading when value.TotalBytes is { } t2 && t2 > 0:
                        int tenth = (int)(value.BytesDone * 10 / t2);
                        if (tenth > _tenths.GetValueOrDefault(value.Name) && tenth < 10)
                        {
                            _tenths[value.Name] = tenth;
                            Console.Error.WriteLine($"  {value.Name}: {tenth * 10}% ({Size(value.BytesDone)} of {total})");
                        }
                        break;
                    case DownloadStage.Verifying:
                        Console.Error.WriteLine($"  {value.Name}: checking SHA-256");
                        break;
                    case DownloadStage.Done:
                        Console.Error.WriteLine(_tenths.ContainsKey(value.Name)
                            ? $"  {value.Name}: done ({Size(value.BytesDone)})"
                            : $"{value.Name}: already cached ({Size(value.BytesDone)})");
                        _tenths[value.Name] = 10;
                        break;
                }
            }
        }
    }
}
