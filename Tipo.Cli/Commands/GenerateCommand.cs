using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Tipo.Inference;
using Tipo.Inference.Sampling;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo generate</c>: continues a prompt, like llama-simple.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var device = CommonOptions.Device();
        var kv = CommonOptions.KvCache();
        var ctx = CommonOptions.Context();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text.", Required = true };
        var count = new Option<int>("--n-predict", "-n") { Description = "Tokens to generate.", DefaultValueFactory = _ => 32 };
        var temp = new Option<float>("--temp") { Description = "Temperature; 0 is greedy.", DefaultValueFactory = _ => 0.8f };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "RNG seed (default: random, printed to stderr)." };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { DefaultValueFactory = _ => 0.95f };
        var minP = new Option<float>("--min-p") { DefaultValueFactory = _ => 0.05f };
        var repeat = new Option<float>("--repeat-penalty") { DefaultValueFactory = _ => 1.0f };
        var repeatLast = new Option<int>("--repeat-last-n") { DefaultValueFactory = _ => 64 };
        var ids = new Option<bool>("--ids") { Description = "Print the generated token ids as a JSON array instead of text." };

        var command = new Command("generate", "Continue a prompt (greedy with --temp 0).")
        {
            model, prompt, count, temp, seed, topK, topP, minP, repeat, repeatLast, ids, device, kv, ctx,
        };
        command.SetAction(parse =>
        {
            var options = new InferenceOptions
            {
                Device = parse.GetValue(device),
                KvCacheType = CommonOptions.ParseKv(parse.GetValue(kv)!),
                ContextLength = parse.GetValue(ctx),
            };
            var sampling = new SamplingOptions
            {
                Temperature = parse.GetValue(temp), TopK = parse.GetValue(topK), TopP = parse.GetValue(topP),
                MinP = parse.GetValue(minP), RepeatPenalty = parse.GetValue(repeat), RepeatLastN = parse.GetValue(repeatLast),
            };
            ulong usedSeed = parse.GetValue(seed) ?? (ulong)Random.Shared.NextInt64();
            int n = parse.GetValue(count);
            if (n < 0) throw new UsageException("-n must be >= 0");

            using var llm = LlamaModel.Load(parse.GetValue(model)!, options);
            string text = parse.GetValue(prompt)!;
            var promptIds = llm.Tokenizer.Encode(text, addBos: llm.Tokenizer.AddBos, parseSpecial: true);
            bool printIds = parse.GetValue(ids);
            var decoder = llm.Tokenizer.CreateStreamingDecoder();
            if (!printIds) Console.Out.Write(text);
            var result = new Generator(llm).Generate(promptIds, n, sampling, usedSeed,
                onToken: printIds ? null : id => Console.Out.Write(decoder.Append(id)));
            if (printIds)
                Console.Out.WriteLine(JsonSerializer.Serialize(result.Tokens));
            else
                Console.Out.WriteLine();
            double promptTps = result.PromptTokensEvaluated / Math.Max(1e-9, result.PromptTime.TotalSeconds);
            double genTps = result.Tokens.Count / Math.Max(1e-9, result.GenerationTime.TotalSeconds);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"seed {usedSeed}; prompt {result.PromptTokensEvaluated} tokens at {promptTps:F1} tok/s; generated {result.Tokens.Count} tokens at {genTps:F1} tok/s ({result.StopReason}); device {llm.Device.Name}"));
            return ExitCodes.Ok;
        });
        return command;
    }
}
