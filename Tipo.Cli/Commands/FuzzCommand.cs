using System.CommandLine;
using Tipo.Fuzzing;

namespace Tipo.Cli.Commands;

/// <summary>
/// <c>tipo fuzz [--cases N] [--seed S] [--target gguf|safetensors|config|tokenizer|all] [--shared DIR] [--case I | --first I] [--keep]</c>:
/// a deterministic fuzz campaign over the model file readers. Prints per-target counts; exits 1 on any failure.
/// </summary>
internal static class FuzzCommand
{
    public static Command Create()
    {
        var cases = new Option<int>("--cases") { Description = "Number of cases.", DefaultValueFactory = _ => 10_000 };
        var seed = new Option<ulong>("--seed") { Description = "Campaign seed: case I of seed S always builds the same file.", DefaultValueFactory = _ => 1 };
        var target = new Option<string>("--target") { Description = "gguf, safetensors, config, tokenizer or all.", DefaultValueFactory = _ => "all" };
        var shared = new Option<string?>("--shared") { Description = "Directory of the seed models (default: ../shared/models, searched upwards from the current directory)." };
        var one = new Option<int?>("--case") { Description = "Run only this case (to reproduce a failure)." };
        var first = new Option<int>("--first") { Description = "Number of the first case (to split a campaign over processes).", DefaultValueFactory = _ => 0 };
        var keep = new Option<bool>("--keep") { Description = "Keep the mutated files (printed) instead of deleting them." };
        var verbose = new Option<bool>("--verbose") { Description = "Print every case." };
        var command = new Command("fuzz", "Fuzz the GGUF, safetensors, config.json and tokenizer readers with mutated copies of the shared models.");
        foreach (var o in new Option[] { cases, seed, target, shared, one, first, keep, verbose })
            command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            int n = parseResult.GetValue(cases);
            if (n < 0)
                throw new UsageException($"--cases must be 0 or more, not {n}");
            string t = parseResult.GetValue(target)!.ToLowerInvariant();
            FuzzTarget[] targets = t switch
            {
                "all" => Enum.GetValues<FuzzTarget>(),
                "gguf" => [FuzzTarget.Gguf],
                "safetensors" => [FuzzTarget.Safetensors],
                "config" => [FuzzTarget.Config],
                "tokenizer" => [FuzzTarget.Tokenizer],
                _ => throw new UsageException($"--target must be gguf, safetensors, config, tokenizer or all, not '{t}'"),
            };
            string dir = parseResult.GetValue(shared) ?? FindShared()
                ?? throw new UsageException("seed models not found: pass --shared DIR (the directory holding stories260K.gguf and tipo-tiny/)");
            if (!Directory.Exists(dir))
                throw new UsageException($"--shared {dir}: no such directory");
            bool keepFiles = parseResult.GetValue(keep);
            string? work = keepFiles ? Path.Combine(Path.GetTempPath(), $"tipo-fuzz-{parseResult.GetValue(seed)}") : null;
            using var fuzzer = new FormatFuzzer(new FuzzOptions
            {
                SharedModels = dir,
                Seed = parseResult.GetValue(seed),
                Targets = targets,
                KeepFiles = keepFiles,
                WorkDirectory = work,
            });
            int? only = parseResult.GetValue(one);
            bool all = parseResult.GetValue(verbose) || only is not null;
            int done = 0;
            var report = fuzzer.Run(only is null ? n : 1, only ?? parseResult.GetValue(first), r =>
            {
                done++;
                if (all)
                    Console.WriteLine($"case {r.Case} {r.Target} {r.SeedFile} [{r.Mutation}]: {r.Failure ?? r.Outcome} ({r.Elapsed.TotalMilliseconds:F0} ms, {r.AllocatedBytes >> 10} KiB allocated)");
                else if (done % 1000 == 0)
                    Console.Error.WriteLine($"fuzz: {done} cases");
            });
            report.Write(Console.Out);
            if (keepFiles)
                Console.WriteLine($"files kept under {work}");
            return report.Failures.Count == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }

    private static string? FindShared()
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d != null; d = d.Parent)
        {
            foreach (string candidate in new[] { Path.Combine(d.FullName, "shared", "models"), Path.Combine(d.FullName, "..", "shared", "models") })
            {
                if (Directory.Exists(candidate))
                    return Path.GetFullPath(candidate);
            }
        }
        return null;
    }
}
