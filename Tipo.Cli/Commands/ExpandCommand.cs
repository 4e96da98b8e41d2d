using System.CommandLine;
using System.Globalization;
using Tipo.Expansion;
using Tipo.Hub;
using Spectre.Console;
using Tipo.Inference.Sampling;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo expand</c>: TIPO prompt expansion of a tag prompt and/or a natural-language prompt.</summary>
internal static class ExpandCommand
{
    public static Command Create()
    {
        var tags = new Argument<string?>("tags") { Arity = ArgumentArity.ZeroOrOne, Description = "The tag prompt (comma-separated; A1111 weights allowed)." };
        var nl = new Option<string?>("--nl") { Description = "The natural-language prompt." };
        var model = new Option<string?>("--model") { Description = $"The TIPO model: a GGUF file or Hugging Face model folder, a repository id (ORG/NAME, ORG/NAME:FILE.gguf) or an alias ({string.Join(", ", ModelAliases.All.Select(a => a.Alias))}); default {ModelAliases.Default.Alias}, downloaded into the Hugging Face cache on first use." };
        var tagLength = new Option<string?>("--tag-length") { Description = "very_short, short, long (default) or very_long." };
        var nlLength = new Option<string?>("--nl-length") { Description = "very_short, short, long (default) or very_long." };
        var format = new Option<string?>("--format") { Description = "A format name (\"Both, tag first (recommend)\" …) or a template with <|general|>-style placeholders." };
        var ban = new Option<string?>("--ban") { Description = "Comma-separated bans: substrings or regexes matched at the start of new tags and sentences." };
        var banCategory = new Option<string?>("--ban-category") { Description = "Comma-separated categories whose new tags are all dropped (artist, characters, copyrights, meta, special, quality, rating, general)." };
        var width = new Option<int?>("--width") { Description = "Image width (default 1024)." };
        var height = new Option<int?>("--height") { Description = "Image height (default 1024)." };
        var seed = new Option<string?>("--seed") { Description = "Master seed (0 … 2^64-1); random when absent or -1. Always reported." };
        var temperature = new Option<float?>("--temperature") { Description = "Default 0.5." };
        var topP = new Option<float?>("--top-p") { Description = "Default 0.95." };
        var topK = new Option<int?>("--top-k") { Description = "Default 80." };
        var minP = new Option<float?>("--min-p") { Description = "Default 0.05." };
        var repeatPenalty = new Option<float?>("--repeat-penalty") { Description = "Default 1.17 (over the last 64 tokens)." };
        var device = new Option<string?>("--device") { Description = "The Vulkan device to run on (index or name substring). With --batch, a comma-separated list: one worker per device, each with its own copy of the model." };
        var maxNewTokens = new Option<int?>("--max-new-tokens") { Description = $"New tokens per model call (default {TipoDefaults.MaxNewTokens})." };
        var batch = new Option<string?>("--batch") { Description = "Expand every request of a JSONL file (one JSON object a line, fields as the flags: tags, nl, width, height, tag_length, nl_length, format, ban, ban_category, seed, temperature, top_p, top_k, min_p, repeat_penalty, max_new_tokens; an \"id\" is copied into the result); '-' reads stdin. The flags given set each line's defaults." };
        var output = new Option<string?>("--out") { Description = "With --batch: the JSONL file for the results (one a line, in input order, each the --json object plus \"line\"); '-' (default) is stdout." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with every output and model call." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Load no model; print the categories, the planned operations and the first prompt." };
        var tagLists = new Option<string?>("--tag-lists") { Description = $"Directory of KGen's tag lists (artist.txt, characters.txt, copyrights.txt, meta.txt); default ${TagLists.EnvironmentVariable}." };

        var command = new Command("expand", "Expand a prompt with a TIPO model (KGen 0.2.0 / z-tipo-extension pipeline).");
        command.Arguments.Add(tags);
        foreach (Option option in new Option[] { nl, model, tagLength, nlLength, format, ban, banCategory, width, height, seed,
                     temperature, topP, topK, minP, repeatPenalty, maxNewTokens, device, json, dryRun, tagLists, batch, output })
            command.Options.Add(option);

        command.SetAction(async (parseResult, ct) =>
        {
            string? batchPath = parseResult.GetValue(batch);
            string? outPath = parseResult.GetValue(output);
            TipoRequest request;
            try
            {
                SamplingOptions sampling = TipoDefaults.Sampling;
                sampling = sampling with
                {
                    Temperature = parseResult.GetValue(temperature) ?? sampling.Temperature,
                    TopP = parseResult.GetValue(topP) ?? sampling.TopP,
                    TopK = parseResult.GetValue(topK) ?? sampling.TopK,
                    MinP = parseResult.GetValue(minP) ?? sampling.MinP,
                    RepeatPenalty = parseResult.GetValue(repeatPenalty) ?? sampling.RepeatPenalty,
                };
                request = new TipoRequest
                {
                    Tags = parseResult.GetValue(tags) ?? "",
                    NaturalLanguage = parseResult.GetValue(nl) ?? "",
                    Width = parseResult.GetValue(width) ?? 1024,
                    Height = parseResult.GetValue(height) ?? 1024,
                    TagLength = ParseLength(parseResult.GetValue(tagLength)),
                    NlLength = ParseLength(parseResult.GetValue(nlLength)),
                    Format = parseResult.GetValue(format),
                    Ban = BanList.Parse(parseResult.GetValue(ban), parseResult.GetValue(banCategory)),
                    Seed = ParseSeed(parseResult.GetValue(seed)),
                    Sampling = sampling,
                    MaxNewTokens = parseResult.GetValue(maxNewTokens) ?? TipoDefaults.MaxNewTokens,
                };
                _ = TipoFormats.Resolve(request.Format);
                if (request.Width <= 0 || request.Height <= 0)
                    throw new ArgumentException("--width and --height must be positive");
                if (request.MaxNewTokens <= 0)
                    throw new ArgumentException("--max-new-tokens must be positive");
                sampling.Validate();
                if (batchPath is null)
                {
                    if (outPath is not null)
                        throw new ArgumentException("--out goes with --batch");
                }
                else
                {
                    if (parseResult.GetValue(tags) is not null || parseResult.GetValue(nl) is not null)
                        throw new ArgumentException("with --batch the prompts come from the request lines, not from TAGS or --nl");
                    if (parseResult.GetValue(dryRun))
                        throw new ArgumentException("--dry-run does not go with --batch");
                    if (batchPath != "-" && !File.Exists(batchPath))
                        throw new ArgumentException($"--batch: file not found: {batchPath}");
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"tipo expand: {e.Message}");
                return ExitCodes.Usage;
            }

            string[] devices = (parseResult.GetValue(device) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (devices.Length > 1 && batchPath is null)
            {
                Console.Error.WriteLine("tipo expand: several --device values need --batch (one worker per device)");
                return ExitCodes.Usage;
            }

            // Which tag lists is decided now, before anything loads; the expander reads them beside the model (~0.2 s).
            string? tagListDir;
            try
            {
                tagListDir = TipoExpander.ResolveTagListDirectory(parseResult.GetValue(tagLists));
            }
            catch (DirectoryNotFoundException e)
            {
                Console.Error.WriteLine($"tipo expand: {e.Message}");
                return ExitCodes.Usage;
            }
            if (tagListDir is null)
                Console.Error.WriteLine($"tipo expand: warning: no tag lists (--tag-lists DIR, ${TagLists.EnvironmentVariable} or 'tipo download --tag-lists'); artists, characters, copyrights and meta tags count as general");

            if (parseResult.GetValue(dryRun))
            {
                TagLists lists = tagListDir is null ? TagLists.BuiltInOnly : TagLists.Load(tagListDir);
                Console.WriteLine(TipoJson.DryRun(TipoPlan.Create(request, lists)));
                return ExitCodes.Ok;
            }

            try
            {
                // No --model: the default alias, fetched into the Hugging Face cache on first use (as KGen does).
                string modelPath = await DownloadDisplay.ResolveModelAsync(parseResult.GetValue(model), ct).ConfigureAwait(false);
                var options = new TipoExpanderOptions { TagListDirectory = tagListDir, AllowDownload = false };
                if (batchPath is not null)
                    return await BatchAsync(modelPath, options, devices, batchPath, outPath ?? "-", request, ct).ConfigureAwait(false);

                TipoResult result;
                using (var expander = TipoExpander.Load(modelPath, options with { Device = devices.FirstOrDefault() }))
                    result = expander.Expand(request, ct);
                if (parseResult.GetValue(json))
                {
                    Console.WriteLine(TipoJson.Result(result));
                }
                else
                {
                    Console.WriteLine(result.Formatted);
                    Console.Error.WriteLine($"tipo expand: seed {result.Seed.ToString(CultureInfo.InvariantCulture)}");
                }
                return ExitCodes.Ok;
            }
            catch (BatchFailedException e)
            {
                Console.Error.WriteLine($"tipo: error: {e.Message}");
                return ExitCodes.For(e.InnerException!);
            }
            catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
            {
                Console.Error.WriteLine($"tipo: error: {e.Message}");
                return ExitCodes.For(e);
            }
        });
        return command;
    }

    /// <summary>
    /// <c>--batch IN --out OUT</c>: one worker (own model) per device, the model loaded once per worker, results in input
    /// order; OUT is written to a temporary file next to it and renamed at the end.
    /// </summary>
    private static async Task<int> BatchAsync(string modelPath, TipoExpanderOptions options, string[] devices, string inPath,
        string outPath, TipoRequest defaults, CancellationToken ct)
    {
        string?[] workerDevices = devices.Length == 0 ? new string?[] { null } : devices;
        var loads = workerDevices.Select(d => Task.Run(() => TipoExpander.Load(modelPath, options with { Device = d }), ct)).ToArray();
        try
        {
            await Task.WhenAll(loads).ConfigureAwait(false);
        }
        catch
        {
            foreach (var load in loads)
                if (load.IsCompletedSuccessfully)
                    load.Result.Dispose();
            throw;
        }
        TipoExpander[] workers = loads.Select(l => l.Result).ToArray();
        string? temp = null;
        try
        {
            Console.Error.WriteLine($"tipo expand: {workers.Length} worker(s): " + string.Join(", ",
                workers.Select((w, i) => $"#{i} {w.DeviceName}")) + $"; model {workers[0].ModelName}");
            int? total = inPath == "-" ? null : File.ReadLines(inPath).Count(l => !string.IsNullOrWhiteSpace(l));
            using TextReader input = inPath == "-" ? Console.In : new StreamReader(inPath, System.Text.Encoding.UTF8);
            TextWriter output;
            if (outPath == "-")
            {
                output = Console.Out;
            }
            else
            {
                string full = Path.GetFullPath(outPath);
                temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}");
                output = new StreamWriter(temp, false, new System.Text.UTF8Encoding(false));
            }
            BatchProgress summary;
            try
            {
                summary = BatchDisplay.Run(p => BatchRunner.Run(input, output, workers, defaults, total, p, ct), total);
            }
            finally
            {
                if (outPath != "-")
                    output.Dispose();
            }
            if (temp != null)
            {
                File.Move(temp, Path.GetFullPath(outPath), overwrite: true);
                temp = null;
            }
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tipo expand: {summary.Done} requests ({summary.Errors} errors) in {summary.Elapsed.TotalSeconds:F1} s on {workers.Length} worker(s): {summary.RequestsPerSecond:F2} requests/s"));
            return ExitCodes.Ok;
        }
        finally
        {
            if (temp != null && File.Exists(temp))
                Console.Error.WriteLine($"tipo expand: the records written so far are in {temp}");
            foreach (var w in workers)
                w.Dispose();
        }
    }

    private static TipoLength ParseLength(string? text) => text is null ? TipoLength.Long : TipoLengths.Parse(text);

    private static ulong? ParseSeed(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "-1")
            return null;
        if (ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed))
            return seed;
        throw new ArgumentException($"--seed must be an integer 0 … {ulong.MaxValue} or -1 for random (got '{text}')");
    }
}

/// <summary>
/// The progress of <c>tipo expand --batch</c> on stderr: a Spectre.Console bar with requests/s on a terminal, else a plain
/// line every 10 % (or every 30 s when the total is unknown).
/// </summary>
internal static class BatchDisplay
{
    public static BatchProgress Run(Func<Action<BatchProgress>, BatchProgress> work, int? total)
    {
        if (Console.IsErrorRedirected || Environment.GetEnvironmentVariable("TERM") == "dumb")
        {
            int lastTenth = 0;
            TimeSpan lastReport = TimeSpan.Zero;
            return work(p =>
            {
                bool report;
                if (p.Total is { } t && t > 0)
                {
                    int tenth = (int)((long)p.Done * 10 / t);
                    report = tenth > lastTenth && p.Done < t;
                    if (report)
                        lastTenth = tenth;
                }
                else
                {
                    report = p.Elapsed - lastReport >= TimeSpan.FromSeconds(30);
                }
                if (report)
                {
                    lastReport = p.Elapsed;
                    Console.Error.WriteLine(Describe(p));
                }
            });
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        BatchProgress result = null!;
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask task = ctx.AddTask(Markup.Escape(Describe(new BatchProgress(0, 0, total, TimeSpan.Zero))), maxValue: Math.Max(1, total ?? 1));
                task.IsIndeterminate = total is null;
                result = work(p =>
                {
                    task.Description = Markup.Escape(Describe(p));
                    task.Value = total is null ? 0 : p.Done;
                });
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return result;
    }

    private static string Describe(BatchProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.Done}{(p.Total is { } t ? $"/{t}" : "")} requests, {p.RequestsPerSecond:F2} requests/s{(p.Errors > 0 ? $", {p.Errors} errors" : "")}");
}
