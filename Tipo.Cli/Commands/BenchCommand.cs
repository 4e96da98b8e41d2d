using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Inference.Benchmarks;
using Tipo.Expansion;
using Tipo.Vulkan;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo bench</c>: prefill and decode speed, printed like llama-bench.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model file or directory." };
        var synthetic = new Option<string?>("--synthetic") { Description = $"Random weights of a TIPO shape: {string.Join(", ", SyntheticModels.All.Select(s => s.Name))}." };
        var syntheticType = new Option<string>("--synthetic-type") { Description = "Weight type of the --synthetic model: f16, q8_0 or q4_k_m (llama-quantize's Q4_K/Q6_K mix).", DefaultValueFactory = _ => "f16" };
        var prompts = new Option<string>("-p", "--n-prompt") { Description = "Prompt lengths to test, comma-separated.", DefaultValueFactory = _ => "64,512" };
        var gen = new Option<int>("-n", "--n-gen") { Description = "Tokens to generate in the decode test.", DefaultValueFactory = _ => 128 };
        var depths = new Option<string>("-d", "--n-depth") { Description = "Tokens already in the cache before each test, comma-separated (llama-bench's -d: \"tg128 @ d512\" decodes from position 512).", DefaultValueFactory = _ => "0" };
        var reps = new Option<int>("-r", "--repetitions") { Description = "Repetitions of each test.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print a JSON array, one object per test (llama-bench field names)." };
        var roofline = new Option<bool>("--roofline") { Description = "Also measure the device's read bandwidth (the faster of a storage-buffer and a texel-buffer read-only kernel over 256 MiB) and arithmetic peak (independent fma chains, no memory traffic), and print decode as a percentage of the bandwidth and prefill as a percentage of the peak." };
        var device = CommonOptions.Device();
        var kv = CommonOptions.KvCache();

        var sample = new Option<bool>("--sample") { Description = "Also run the decode test choosing each token with TIPO's sampler (temperature 0.5, top-k 80, top-p 0.95, min-p 0.05, repetition penalty 1.17 over 64 tokens) from the read-back logits, as tipo expand does, and print the sampler's host time per token." };
        var profile = new Option<bool>("--profile") { Description = "Also print the GPU time by shader of one prefill pass of the longest prompt and one decode step at the deepest -d plus half of -n (a timestamp after every dispatch)." };
        var command = new Command("bench", "Measure prefill and decode tokens/s.") { model, synthetic, syntheticType, prompts, gen, depths, reps, json, roofline, sample, profile, device, kv };
        command.SetAction(parse =>
        {
            string? modelPath = parse.GetValue(model);
            string? syntheticName = parse.GetValue(synthetic);
            if ((modelPath == null) == (syntheticName == null)) throw new UsageException("give exactly one of --model or --synthetic");
            var weightType = parse.GetValue(syntheticType)!.ToLowerInvariant() switch
            {
                "f16" => SyntheticWeightType.F16,
                "q4_k_m" => SyntheticWeightType.Q4_K_M,
                "q8_0" => SyntheticWeightType.Q8_0,
                var t => throw new UsageException($"--synthetic-type must be f16, q8_0 or q4_k_m, not '{t}'"),
            };
            if (syntheticName == null && parse.GetResult(syntheticType) is { Implicit: false }) throw new UsageException("--synthetic-type needs --synthetic");
            int[] pp = ParseList(parse.GetValue(prompts)!, "-p").Where(v => v > 0).ToArray();
            int[] dd = ParseList(parse.GetValue(depths)!, "-d").Distinct().ToArray();
            if (dd.Length == 0) dd = [0];
            if (dd.Any(d => d < 0)) throw new UsageException("-d must not be negative");
            int ng = parse.GetValue(gen), r = parse.GetValue(reps);
            if (r < 1) throw new UsageException("-r must be at least 1");
            if (ng < 0) throw new UsageException("-n must not be negative");
            // Room for the deepest prefill (d + p), decode (max(1, d) + n) and, with --profile, its decode step at
            // d + max(1, n / 2) and the decode-layer timeline's step after it.
            long contextTokens = (long)dd.Max() + Math.Max(pp.DefaultIfEmpty(0).Max(), (long)ng + 1);
            if (parse.GetValue(profile)) contextTokens = Math.Max(contextTokens, (long)dd.Max() + Math.Max(1, ng / 2) + 2);
            if (contextTokens > MaxContextTokens)
                throw new UsageException($"the bench needs a context of {contextTokens} tokens (-d + the longest of -p and -n + 1), more than a context can hold ({MaxContextTokens})");

            string? tempFile = null;
            try
            {
                string label;
                if (syntheticName != null)
                {
                    var shape = SyntheticModels.Find(syntheticName);
                    tempFile = Path.Combine(Path.GetTempPath(), $"tipo-bench-{shape.Name}-{weightType}-{Environment.ProcessId}.gguf");
                    SyntheticModels.WriteGguf(shape, tempFile, weightType: weightType);
                    modelPath = tempFile;
                    label = $"{shape.Name} {weightType} (random)";
                }
                else
                {
                    label = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelPath!));
                }
                int ctx = (int)contextTokens;
                var options = new InferenceOptions
                {
                    Device = parse.GetValue(device),
                    KvCacheType = CommonOptions.ParseKv(parse.GetValue(kv)!),
                    ContextLength = ctx,
                    // The depth is filled in batches of up to 512 tokens even where the prompts are shorter (llama-bench's n_batch).
                    MaxBatchTokens = Math.Max(pp.DefaultIfEmpty(1).Max(), Math.Clamp(dd.Max(), 1, 512)),
                };
                using var llm = LlamaModel.Load(modelPath!, options);
                var results = new List<BenchResult>();
                foreach (int d in dd)
                {
                    foreach (int p in pp) results.Add(ModelBenchmark.Prefill(llm, p, r, d));
                    if (ng > 0) results.Add(ModelBenchmark.Decode(llm, ng, r, depth: d));
                    if (ng > 0 && parse.GetValue(sample)) results.Add(ModelBenchmark.Decode(llm, ng, r, TipoDefaults.Sampling, d));
                }
                (BandwidthResult Best, BandwidthResult Storage, BandwidthResult Texel)? roof = parse.GetValue(roofline)
                    ? KernelBenchmarks.Roofline(llm.VulkanDevice, 256L << 20, r)
                    : null;
                double? rooflineGbps = roof?.Best.GBps;
                double? peakGflops = roof != null ? KernelBenchmarks.PeakFlops(llm.VulkanDevice, r).Gflops : null;
                DispatchCost? dispatchCost = roof != null ? MeasureDispatchCost(llm.VulkanDevice, r) : null;
                Print(parse.GetValue(json), label, syntheticName == null ? modelPath! : syntheticName, llm, results, rooflineGbps, peakGflops, dispatchCost);
                if (roof is { } rl && !parse.GetValue(json))
                    Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "read kernels over 256 MiB: storage buffer {0:F2} GB/s, texel buffer {1:F2} GB/s (the roofline is the faster)",
                        rl.Storage.GBps, rl.Texel.GBps));
                if (dispatchCost is { } dc && !parse.GetValue(json))
                    Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                        "dependent dispatches (a barrier between each, {0} in a row): {1:F2} µs each with 1 workgroup{2}", dc.Chain, dc.OneWorkgroupUs,
                        dc.ManyWorkgroupsUs is double many ? string.Format(CultureInfo.InvariantCulture, ", {0:F2} µs with 2048 workgroups of 64 lanes", many) : ""));
                if (llm.CpuDriverInline && !parse.GetValue(json))
                    Console.WriteLine("llvmpipe runs this model on the submitting thread (LP_NUM_THREADS=0): it is too small to pay for the thread pool's dispatch cost");
                if (parse.GetValue(profile)) PrintProfile(llm, pp.DefaultIfEmpty(0).Max(), dd.Max() + Math.Max(1, ng / 2));
                return ExitCodes.Ok;
            }
            finally
            {
                if (tempFile != null) File.Delete(tempFile);
            }
        });
        return command;
    }

    /// <summary>GPU time of one dispatch in a chain of dependent near-empty dispatches (<see cref="KernelBenchmarks.DependentDispatchMicroseconds"/>):
    /// with one workgroup, and (GPUs only: on a CPU device they are work, not overhead) with 2048 of 64 lanes.</summary>
    private readonly record struct DispatchCost(int Chain, double OneWorkgroupUs, double? ManyWorkgroupsUs);

    /// <summary>The fixed cost of a dispatch: a decode step pays it once per dispatch, whatever the dispatch reads.</summary>
    private static DispatchCost MeasureDispatchCost(VulkanDevice device, int repeats)
    {
        bool cpu = device.Info.Kind == DeviceKind.Cpu;
        int chain = cpu ? 32 : 256;
        return new DispatchCost(chain, KernelBenchmarks.DependentDispatchMicroseconds(device, 1, chain, repeats),
            cpu ? null : KernelBenchmarks.DependentDispatchMicroseconds(device, 2048, chain, repeats));
    }

    /// <summary>The most tokens a bench context may hold (a KV cache bigger than any device heap is refused later, by size).</summary>
    private const int MaxContextTokens = 1 << 24;

    private static int[] ParseList(string text, string option)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"{option} must be comma-separated integers");
        }
    }

    /// <summary>GPU time by shader of one prefill pass of <paramref name="prompt"/> tokens (when more than one) and of one
    /// decode step at position <paramref name="position"/>.</summary>
    private static void PrintProfile(LlamaModel llm, int prompt, int position)
    {
        var inv = CultureInfo.InvariantCulture;
        if (prompt > 1)
        {
            llm.ResetCache();
            var steps = llm.ProfileStep(Enumerable.Repeat(llm.Config.BosTokenId, prompt).ToArray());
            PrintSteps(string.Format(inv, "prefill of {0} tokens", prompt), steps);
        }
        llm.ResetCache();
        llm.Evaluate(Enumerable.Repeat(llm.Config.BosTokenId, position).ToArray(), LogitsMode.Last, new float[llm.VocabSize]);
        PrintSteps(string.Format(inv, "decode step at position {0}", position), llm.ProfileDecodeStep(llm.Config.BosTokenId));
        // One dispatch per layer hides its phases from the timestamps: the kernel's timeline variant marks them.
        if (!llm.CanProfileDecodeLayerPhases) return;
        try
        {
            Console.Write(llm.ProfileDecodeLayerPhases(llm.Config.BosTokenId).Format());
        }
        catch (InvalidOperationException e)
        {
            Console.WriteLine($"decode layer phases: {e.Message}");
        }
    }

    private static void PrintSteps(string what, IReadOnlyList<(string Shader, double Milliseconds)> steps)
    {
        double total = steps.Sum(s => s.Milliseconds);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Format(inv, "{0}: {1} dispatches, {2:F3} ms of GPU time (timestamps after each dispatch)", what, steps.Count, total));
        Console.WriteLine("| shader | dispatches | ms | share |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (var g in steps.GroupBy(s => s.Shader).OrderByDescending(g => g.Sum(s => s.Milliseconds)))
            Console.WriteLine(string.Format(inv, "| {0} | {1} | {2:F3} | {3:F1}% |", g.Key, g.Count(), g.Sum(s => s.Milliseconds), 100 * g.Sum(s => s.Milliseconds) / total));
    }

    private static void Print(bool asJson, string label, string fileName, LlamaModel llm, List<BenchResult> results, double? rooflineGbps,
        double? peakGflops, DispatchCost? dispatchCost)
    {
        long parameters = llm.ParameterCount;
        if (asJson)
        {
            var array = new JsonArray();
            foreach (var t in results)
            {
                array.Add(new JsonObject
                {
                    ["model_filename"] = fileName,
                    ["model_type"] = label,
                    ["model_size"] = llm.FileTensorBytes,
                    ["model_n_params"] = parameters,
                    ["gpu_info"] = llm.Device.Name,
                    ["driver_info"] = llm.Device.Driver,
                    ["matmuls"] = llm.MatmulChoices,
                    ["decode_layout"] = llm.DecodeLayout,
                    ["test"] = t.Test,   // the table's name for it ("pp512", "tg32 @ d512", "tg128 sampled")
                    ["n_prompt"] = t.NPrompt,
                    ["n_gen"] = t.NGen,
                    ["n_depth"] = t.NDepth,
                    ["type_k"] = llm.KvCacheType.ToString().ToLowerInvariant(),
                    ["avg_ts"] = t.AvgTokensPerSecond,
                    ["stddev_ts"] = t.StdDevTokensPerSecond,
                    ["samples_ts"] = new JsonArray(t.SamplesTokensPerSecond.Select(v => (JsonNode)v).ToArray()),
                    ["bytes_per_token"] = t.BytesPerToken,
                    ["gbps"] = t.GigabytesPerSecond,
                    ["roofline_gbps"] = rooflineGbps,
                    ["flops_per_token"] = t.FlopsPerToken > 0 ? t.FlopsPerToken : null,
                    ["gflops"] = t.FlopsPerToken > 0 ? t.GigaflopsPerSecond : null,
                    ["peak_gflops"] = peakGflops,
                    ["dispatch_us"] = dispatchCost?.OneWorkgroupUs,
                    ["sampler_us_per_token"] = t.SamplerMicrosecondsPerToken,
                });
            }
            Console.WriteLine(array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("| model | size | params | device | test | t/s | bytes/token | GB/s |");
        Console.WriteLine("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
        foreach (var t in results)
        {
            Console.WriteLine(string.Format(inv, "| {0} | {1:F2} MiB | {2:F2} M | {3} | {4} | {5:F2} ± {6:F2} | {7} | {8} |",
                label, llm.FileTensorBytes / 1048576.0, parameters / 1e6, llm.Device.Name, t.Test,
                t.AvgTokensPerSecond, t.StdDevTokensPerSecond,
                t.NGen > 0 ? (t.BytesPerToken / 1048576.0).ToString("F2", inv) + " MiB" : "",
                t.NGen > 0 ? t.GigabytesPerSecond.ToString("F2", inv) : ""));
        }
        Console.WriteLine(string.Format(inv, "driver: {0}; {1}; decode: {2}", llm.Device.Driver, llm.MatmulChoices, llm.DecodeLayout));
        foreach (var t in results.Where(t => t.SamplerMicrosecondsPerToken != null))
        {
            double us = t.SamplerMicrosecondsPerToken!.Value;
            Console.WriteLine(string.Format(inv, "{0}: the host sampler took {1:F1} µs per token, {2:F2} % of a decode step",
                t.Test, us, 100 * us * 1e-6 * t.AvgTokensPerSecond));
        }
        if (rooflineGbps is double roof)
        {
            Console.WriteLine(string.Format(inv, "device read bandwidth (roofline): {0:F2} GB/s", roof));
            foreach (var t in results.Where(t => t.NGen > 0))
                Console.WriteLine(string.Format(inv, "{0}: {1:F1}% of the roofline", t.Test, 100 * t.GigabytesPerSecond / roof));
        }
        if (peakGflops is double peak)
        {
            Console.WriteLine(string.Format(inv, "device arithmetic peak (independent fma chains, no memory traffic): {0:F1} GFLOP/s", peak));
            foreach (var t in results.Where(t => t.FlopsPerToken > 0))
                Console.WriteLine(string.Format(inv, "{0}: {1:F1} GFLOP/s ({2:F1} MFLOP a token), {3:F1}% of the arithmetic peak",
                    t.Test, t.GigaflopsPerSecond, t.FlopsPerToken / 1e6, 100 * t.GigaflopsPerSecond / peak));
        }
    }
}
