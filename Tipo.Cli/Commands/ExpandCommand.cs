using System.CommandLine;
using System.Globalization;
using Tipo.Expansion;
using Tipo.Inference.Sampling;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo expand</c>: TIPO prompt expansion of a tag prompt and/or a natural-language prompt.</summary>
internal static class ExpandCommand
{
    public static Command Create()
    {
        var tags = new Argument<string?>("tags") { Arity = ArgumentArity.ZeroOrOne, Description = "The tag prompt (comma-separated; A1111 weights allowed)." };
        var nl = new Option<string?>("--nl") { Description = "The natural-language prompt." };
        var model = new Option<string?>("--model") { Description = "Path to a TIPO GGUF model." };
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
        var device = new Option<string?>("--device") { Description = "The Vulkan device to run on." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with every output and model call." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Load no model; print the categories, the planned operations and the first prompt." };
        var tagLists = new Option<string?>("--tag-lists") { Description = $"Directory of KGen's tag lists (artist.txt, characters.txt, copyrights.txt, meta.txt); default ${TagLists.EnvironmentVariable}." };

        var command = new Command("expand", "Expand a prompt with a TIPO model (KGen 0.2.0 / z-tipo-extension pipeline).");
        command.Arguments.Add(tags);
        foreach (Option option in new Option[] { nl, model, tagLength, nlLength, format, ban, banCategory, width, height, seed,
                     temperature, topP, topK, minP, repeatPenalty, device, json, dryRun, tagLists })
            command.Options.Add(option);

        command.SetAction(parseResult =>
        {
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
                };
                _ = TipoFormats.Resolve(request.Format);
                if (request.Width <= 0 || request.Height <= 0)
                    throw new ArgumentException("--width and --height must be positive");
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"tipo expand: {e.Message}");
                return ExitCodes.Usage;
            }

            TagLists lists;
            try
            {
                lists = TagLists.Resolve(parseResult.GetValue(tagLists));
            }
            catch (DirectoryNotFoundException e)
            {
                Console.Error.WriteLine($"tipo expand: {e.Message}");
                return ExitCodes.Usage;
            }
            if (lists.Directory is null)
                Console.Error.WriteLine($"tipo expand: warning: no tag lists (--tag-lists DIR or ${TagLists.EnvironmentVariable}); artists, characters, copyrights and meta tags count as general");

            if (parseResult.GetValue(dryRun))
            {
                Console.WriteLine(TipoJson.DryRun(TipoPlan.Create(request, lists)));
                return ExitCodes.Ok;
            }

            string? modelPath = parseResult.GetValue(model);
            if (string.IsNullOrWhiteSpace(modelPath))
            {
                Console.Error.WriteLine($"tipo expand: {TipoModelLoader.ModelNeededMessage}");
                return ExitCodes.Usage;
            }
            TipoResult result;
            try
            {
                using ITipoLanguageModel languageModel = TipoModelLoader.Load(modelPath, parseResult.GetValue(device));
                result = new TipoPipeline(languageModel, lists).Run(request);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"tipo: error: {e.Message}");
                return ExitCodes.For(e);
            }
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
        });
        return command;
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
