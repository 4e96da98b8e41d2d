using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tipo.Expansion;
using Tipo.Vulkan;

namespace Tipo.Cli.Commands;

/// <summary>
/// <c>tipo soak --model M [--requests 1000] [--every 100] [--json] [--device D]</c>: loads one
/// <see cref="TipoExpander"/>, runs many short expand requests in this one process and samples host memory (RSS, GC heap
/// after a full collection) and device memory (bytes and allocations from vkAllocateMemory) every N requests. Exits 1 when
/// memory is not flat after the warm-up (the first N requests): host RSS or GC heap grown more than 5 %, or device memory
/// changed at all.
/// </summary>
internal static class SoakCommand
{
    /// <summary>Host RSS and the GC heap may grow this much (a fraction of their value after the warm-up) and still
    /// count as flat.</summary>
    public const double HostTolerance = 0.05;

    private static readonly string[] s_tags =
    [
        "1girl, scenery",
        "1boy, solo, hat",
        "cat, no humans, outdoors",
        "2girls, school uniform, classroom",
        "landscape, (mountain:1.2), sky",
    ];

    private static readonly (int Width, int Height)[] s_sizes = [(1024, 1024), (832, 1216), (1216, 832)];
    private static readonly int[] s_maxNewTokens = [4, 6, 8, 5];

    /// <summary>
    /// Request <paramref name="i"/> of a soak: tag-only, very short, few new tokens, cycling through 5 tag prompts, 3
    /// sizes and 4 token limits (60 combinations), seed = i. Deterministic, so two soaks run the same requests.
    /// </summary>
    public static TipoRequest Request(int i) => new()
    {
        Tags = s_tags[i % s_tags.Length],
        Width = s_sizes[i % s_sizes.Length].Width,
        Height = s_sizes[i % s_sizes.Length].Height,
        TagLength = TipoLength.VeryShort,
        NlLength = TipoLength.VeryShort,
        Seed = (ulong)i,
        MaxNewTokens = s_maxNewTokens[i % s_maxNewTokens.Length],
    };

    /// <summary>Memory after <see cref="Requests"/> requests.</summary>
    internal sealed record Sample(int Requests, long RssBytes, long GcHeapBytes, long GpuBytes, long GpuAllocations, double Seconds);

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var requests = new Option<int>("--requests") { Description = "Requests to run.", DefaultValueFactory = _ => 1000 };
        var every = new Option<int>("--every") { Description = "Sample memory every N requests; the first N are the warm-up.", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (samples and verdict) instead of the table." };
        var device = CommonOptions.Device();
        var command = new Command("soak", "Run many expand requests on one loaded model; check that host and device memory stay flat.")
        {
            model, requests, every, json, device,
        };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(requests), step = parse.GetValue(every);
            if (n < 2)
                throw new UsageException($"--requests must be at least 2, not {n}");
            if (step < 1 || step >= n)
                throw new UsageException($"--every must be between 1 and --requests - 1 ({n - 1}), not {step}: the first --every requests are the warm-up, and memory after it is compared with memory at the end");
            bool asJson = parse.GetValue(json);

            using var expander = TipoExpander.Load(parse.GetValue(model), new TipoExpanderOptions
            {
                Device = parse.GetValue(device),
                AllowDownload = false,
            });
            VulkanDevice gpu = expander.VulkanDevice ?? throw new InvalidOperationException("the model is not on a Vulkan device");
            TextWriter log = asJson ? Console.Error : Console.Out;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tipo soak: {expander.ModelName} on {expander.DeviceName}, {n} requests, memory every {step} (the first {step} are the warm-up)"));
            log.WriteLine("| requests | host RSS MiB | GC heap MiB | GPU bytes | GPU allocations | elapsed s |");
            log.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
            log.Flush();

            var clock = Stopwatch.StartNew();
            var samples = new List<Sample>();
            void Take(int done)
            {
                Sample s = Measure(done, gpu, clock);
                samples.Add(s);
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {s.Requests} | {s.RssBytes / 1048576.0:F1} | {s.GcHeapBytes / 1048576.0:F2} | {s.GpuBytes} | {s.GpuAllocations} | {s.Seconds:F1} |"));
                log.Flush();
            }

            Take(0);
            for (int i = 0; i < n; i++)
            {
                expander.Expand(Request(i));
                if ((i + 1) % step == 0 || i + 1 == n)
                    Take(i + 1);
            }

            Verdict v = Judge(samples, step);
            foreach (string line in v.Lines)
                log.WriteLine(line);
            if (asJson)
                Console.WriteLine(Json(expander, n, step, samples, v));
            return v.HostFlat && v.GpuFlat ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }

    private static Sample Measure(int done, VulkanDevice gpu, Stopwatch clock)
    {
        double seconds = clock.Elapsed.TotalSeconds;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        return new Sample(done, ResidentBytes(), heap, gpu.AllocatedDeviceBytes, gpu.LiveAllocations, seconds);
    }

    /// <summary>The process's resident set: VmRSS from /proc/self/status on Linux, else the working set.</summary>
    internal static long ResidentBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }

    internal sealed record Verdict(Sample Warm, Sample Last, double RssGrowth, double GcHeapGrowth, bool HostFlat, bool GpuFlat,
        IReadOnlyList<string> Lines);

    /// <summary>
    /// Compares the sample after the warm-up (the first <paramref name="warmup"/> requests) with the last one: host RSS and
    /// the GC heap may grow at most <see cref="HostTolerance"/>; device bytes and allocations must equal the warm-up's in
    /// every later sample.
    /// </summary>
    internal static Verdict Judge(IReadOnlyList<Sample> samples, int warmup)
    {
        Sample warm = samples.First(s => s.Requests >= warmup), last = samples[^1];
        double growth = (double)(last.RssBytes - warm.RssBytes) / warm.RssBytes;
        double heapGrowth = (double)(last.GcHeapBytes - warm.GcHeapBytes) / Math.Max(1, warm.GcHeapBytes);
        bool rssFlat = growth <= HostTolerance, heapFlat = heapGrowth <= HostTolerance;
        bool hostFlat = rssFlat && heapFlat;
        List<Sample> after = samples.Where(s => s.Requests >= warm.Requests).ToList();
        bool gpuFlat = after.All(s => s.GpuBytes == warm.GpuBytes && s.GpuAllocations == warm.GpuAllocations);
        var inv = CultureInfo.InvariantCulture;
        double seconds = last.Seconds;
        var lines = new List<string>
        {
            string.Create(inv, $"{last.Requests} requests in {seconds:F1} s ({(seconds > 0 ? last.Requests / seconds : 0):F2} requests/s)"),
            string.Create(inv, $"host RSS: {warm.RssBytes / 1048576.0:F1} MiB after {warm.Requests} requests, {last.RssBytes / 1048576.0:F1} MiB after {last.Requests} ({growth * 100:+0.0;-0.0;0.0} %, limit +{HostTolerance * 100:0} %): {(rssFlat ? "flat" : "GROWING")}"),
            string.Create(inv, $"GC heap: {warm.GcHeapBytes / 1048576.0:F2} MiB after {warm.Requests} requests, {last.GcHeapBytes / 1048576.0:F2} MiB after {last.Requests} ({heapGrowth * 100:+0.0;-0.0;0.0} %, limit +{HostTolerance * 100:0} %): {(heapFlat ? "flat" : "GROWING")}"),
            gpuFlat
                ? string.Create(inv, $"GPU memory: {warm.GpuBytes} bytes in {warm.GpuAllocations} allocations from {warm.Requests} requests to {last.Requests}: flat")
                : string.Create(inv, $"GPU memory: {warm.GpuBytes} bytes in {warm.GpuAllocations} allocations after {warm.Requests} requests, then {string.Join(", ", after.Skip(1).Select(s => string.Create(inv, $"{s.GpuBytes} in {s.GpuAllocations} after {s.Requests}")))}: CHANGED"),
            hostFlat && gpuFlat ? "soak: flat" : "soak: NOT flat",
        };
        return new Verdict(warm, last, growth, heapGrowth, hostFlat, gpuFlat, lines);
    }

    private static string Json(TipoExpander expander, int requests, int every, List<Sample> samples, Verdict v)
    {
        var array = new JsonArray();
        foreach (Sample s in samples)
        {
            array.Add(new JsonObject
            {
                ["requests"] = s.Requests,
                ["rss_bytes"] = s.RssBytes,
                ["gc_heap_bytes"] = s.GcHeapBytes,
                ["gpu_bytes"] = s.GpuBytes,
                ["gpu_allocations"] = s.GpuAllocations,
                ["elapsed_s"] = Math.Round(s.Seconds, 3),
            });
        }
        var root = new JsonObject
        {
            ["model"] = expander.ModelName,
            ["device"] = expander.DeviceName,
            ["requests"] = requests,
            ["every"] = every,
            ["host_tolerance"] = HostTolerance,
            ["samples"] = array,
            ["rss_growth"] = Math.Round(v.RssGrowth, 5),
            ["gc_heap_growth"] = Math.Round(v.GcHeapGrowth, 5),
            ["host_flat"] = v.HostFlat,
            ["gpu_flat"] = v.GpuFlat,
            ["flat"] = v.HostFlat && v.GpuFlat,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
