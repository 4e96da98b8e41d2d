using System.Diagnostics;
using Tipo.Errors;
using Tipo.Models;
using Tipo.Text;

namespace Tipo.Fuzzing;

/// <summary>The outcome of one fuzz case.</summary>
/// <param name="Case">The case number; with the campaign seed it reproduces the case alone.</param>
/// <param name="Outcome">"valid", or the type of the clear error (ModelFormatException, UnsupportedFeatureException).</param>
/// <param name="Failure">Why the case failed (unexpected exception, timeout, allocation over the bound, error not naming the file); null when it passed.</param>
public sealed record FuzzCaseResult(int Case, FuzzTarget Target, string SeedFile, string Mutation, string Outcome, string? Failure,
    TimeSpan Elapsed, long AllocatedBytes, long FileBytes)
{
    public bool Failed => Failure is not null;
}

/// <summary>Counts of one target's cases.</summary>
public sealed class FuzzTargetCounts
{
    public int Cases { get; set; }
    public int Valid { get; set; }
    /// <summary>Clear errors by exception type.</summary>
    public SortedDictionary<string, int> Errors { get; } = new(StringComparer.Ordinal);
    public int Failures { get; set; }
    public TimeSpan Slowest { get; set; }
    public long MostAllocated { get; set; }
}

/// <summary>What a campaign found.</summary>
public sealed class FuzzReport
{
    public ulong Seed { get; init; }
    public SortedDictionary<FuzzTarget, FuzzTargetCounts> Targets { get; } = new();
    public List<FuzzCaseResult> Failures { get; } = [];
    public int Cases => Targets.Values.Sum(t => t.Cases);
    public TimeSpan Elapsed { get; set; }

    public void Add(FuzzCaseResult r)
    {
        if (!Targets.TryGetValue(r.Target, out var c))
            Targets[r.Target] = c = new FuzzTargetCounts();
        c.Cases++;
        if (r.Failed)
        {
            c.Failures++;
            Failures.Add(r);
        }
        else if (r.Outcome == "valid")
        {
            c.Valid++;
        }
        else
        {
            c.Errors[r.Outcome] = c.Errors.GetValueOrDefault(r.Outcome) + 1;
        }
        if (r.Elapsed > c.Slowest)
            c.Slowest = r.Elapsed;
        c.MostAllocated = Math.Max(c.MostAllocated, r.AllocatedBytes);
    }

    public void Write(TextWriter w)
    {
        w.WriteLine($"fuzz: {Cases} cases, seed {Seed}, {Elapsed.TotalSeconds:F1} s");
        foreach (var (target, c) in Targets)
        {
            string errors = string.Join(", ", c.Errors.Select(e => $"{e.Key} {e.Value}"));
            w.WriteLine($"  {target.ToString().ToLowerInvariant(),-12} {c.Cases,6} cases: {c.Valid} valid loads, {c.Cases - c.Valid - c.Failures} clear errors ({errors}), {c.Failures} failures; slowest {c.Slowest.TotalMilliseconds:F0} ms, most allocated {c.MostAllocated / (1 << 20)} MiB");
        }
        foreach (var f in Failures.Take(50))
            w.WriteLine($"  FAILURE case {f.Case} (--seed {Seed} --case {f.Case}) {f.Target} {f.SeedFile} [{f.Mutation}]: {f.Failure}");
        if (Failures.Count > 50)
            w.WriteLine($"  ... and {Failures.Count - 50} more failures");
    }
}

/// <summary>Options of a fuzz campaign.</summary>
public sealed class FuzzOptions
{
    /// <summary>The directory with the seed models (stories260K.gguf, tipo-tiny-q8_0.gguf, tipo-tiny/).</summary>
    public required string SharedModels { get; init; }
    public ulong Seed { get; init; } = 1;
    public IReadOnlyList<FuzzTarget> Targets { get; init; } = Enum.GetValues<FuzzTarget>();
    /// <summary>A case running longer than this is a hang, and a failure.</summary>
    public TimeSpan CaseTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Where case directories are made (and deleted); a fresh temporary directory by default.</summary>
    public string? WorkDirectory { get; init; }
    /// <summary>Keep each case's files (for reproducing one case).</summary>
    public bool KeepFiles { get; init; }
    /// <summary>Bytes a case may allocate beyond <see cref="AllocationFactor"/> times its mutated file's size.</summary>
    public long AllocationSlack { get; init; } = 64L << 20;
    public long AllocationFactor { get; init; } = 4;
}

/// <summary>
/// A deterministic fuzz campaign over Tipo's file readers (GGUF, safetensors, config.json and the tokenizer files).
/// Case <c>i</c> of seed <c>S</c> always builds the same file. Every case must end in a valid load or a clear error
/// (<see cref="ModelFormatException"/> or <see cref="UnsupportedFeatureException"/> naming the file), within the
/// timeout, allocating no more than the bound.
/// </summary>
public sealed class FormatFuzzer : IDisposable
{
    private readonly FuzzOptions _options;
    private readonly Dictionary<FuzzTarget, List<(FuzzSeed Seed, int Weight)>> _seeds = [];
    private readonly string _work;
    private readonly bool _ownsWork;
    private readonly string _hfDir;

    public FormatFuzzer(FuzzOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        string shared = Path.GetFullPath(options.SharedModels);
        _hfDir = Path.Combine(shared, "tipo-tiny");
        foreach (var target in options.Targets.Distinct())
        {
            var list = new List<(FuzzSeed, int)>();
            switch (target)
            {
                case FuzzTarget.Gguf:
                    foreach (string f in Directory.GetFiles(shared, "*.gguf").Order(StringComparer.Ordinal))
                    {
                        long len = new FileInfo(f).Length;
                        // Small files are mutated whole and picked most; large ones (header region only) cost a copy per case.
                        list.Add((FuzzSeed.Load(target, f, "model.gguf", SeedKind.Gguf), len <= 2 << 20 ? 6 : f.Contains("q8_0", StringComparison.Ordinal) ? 2 : 1));
                    }
                    break;
                case FuzzTarget.Safetensors:
                    list.Add((FuzzSeed.Load(target, Path.Combine(_hfDir, "model.safetensors"), "model.safetensors", SeedKind.Safetensors), 1));
                    break;
                case FuzzTarget.Config:
                    list.Add((FuzzSeed.Load(target, Path.Combine(_hfDir, "config.json"), "config.json", SeedKind.Json), 1));
                    break;
                case FuzzTarget.Tokenizer:
                    list.Add((FuzzSeed.Load(target, Path.Combine(_hfDir, "tokenizer.model"), "tokenizer.model", SeedKind.Binary), 3));
                    list.Add((FuzzSeed.Load(target, Path.Combine(_hfDir, "added_tokens.json"), "added_tokens.json", SeedKind.Json), 3));
                    foreach (string name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
                    {
                        if (File.Exists(Path.Combine(_hfDir, name)))
                            list.Add((FuzzSeed.Load(target, Path.Combine(_hfDir, name), name, SeedKind.Json), 1));
                    }
                    break;
            }
            if (list.Count == 0)
                throw new FileNotFoundException($"no seed files for {target} in {shared}");
            _seeds[target] = list;
        }
        _ownsWork = options.WorkDirectory is null;
        _work = options.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "tipo-fuzz-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_work);
    }

    public IReadOnlyList<FuzzTarget> Targets => _options.Targets;

    /// <summary>Runs cases <paramref name="first"/> .. first + count - 1.</summary>
    public FuzzReport Run(int count, int first = 0, Action<FuzzCaseResult>? onCase = null)
    {
        var report = new FuzzReport { Seed = _options.Seed };
        var sw = Stopwatch.StartNew();
        for (int i = first; i < first + count; i++)
        {
            var r = RunCase(i);
            report.Add(r);
            onCase?.Invoke(r);
        }
        report.Elapsed = sw.Elapsed;
        return report;
    }

    private static Random CaseRandom(ulong seed, int i)
    {
        // splitmix64 of (seed, case): each case has its own stream, so a case reproduces alone.
        ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)(i + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return new Random((int)(z ^ (z >> 32)));
    }

    /// <summary>The target, seed file, mutated input and description of case <paramref name="i"/> (deterministic).</summary>
    public (FuzzTarget Target, FuzzSeed Seed, FuzzInput Input, string Mutation) Build(int i)
    {
        var rng = CaseRandom(_options.Seed, i);
        var target = _options.Targets[i % _options.Targets.Count];
        var seeds = _seeds[target];
        int pick = rng.Next(seeds.Sum(s => s.Weight));
        var seed = seeds[^1].Seed;
        foreach (var (s, w) in seeds)
        {
            if (pick < w)
            {
                seed = s;
                break;
            }
            pick -= w;
        }
        var (input, mutation) = new Mutator(rng).Mutate(seed);
        return (target, seed, input, mutation);
    }

    /// <summary>Runs case <paramref name="i"/>: builds its files, loads them with a timeout, classifies the outcome.</summary>
    public FuzzCaseResult RunCase(int i)
    {
        FuzzTarget target;
        FuzzSeed seed;
        FuzzInput input;
        string mutation;
        try
        {
            (target, seed, input, mutation) = Build(i);
        }
        catch (Exception e)
        {
            // A bug of the mutator, not of a reader: still a failure, and the campaign goes on.
            return new FuzzCaseResult(i, _options.Targets[i % _options.Targets.Count], "?", "?", "fuzzer error",
                $"the mutator failed: {e.GetType().Name}: {e.Message} at {FirstFrame(e)}", TimeSpan.Zero, 0, 0);
        }
        string dir = Path.Combine(_work, $"case-{i}");
        string seedName = Path.GetFileName(seed.SourcePath);
        var sw = Stopwatch.StartNew();
        long allocated = 0;
        string outcome = "valid";
        string? failure = null;
        var task = Task.Factory.StartNew(() =>
        {
            Directory.CreateDirectory(dir);
            string file = Path.Combine(dir, seed.FileName);
            input.WriteTo(file);
            if (target != FuzzTarget.Gguf)
            {
                foreach (string other in Directory.GetFiles(_hfDir))
                {
                    string link = Path.Combine(dir, Path.GetFileName(other));
                    if (!File.Exists(link))
                        File.CreateSymbolicLink(link, other);
                }
            }
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                string? error = null;
                switch (target)
                {
                    case FuzzTarget.Gguf:
                        error = Stage(() => LoadModel(file), dir);
                        error ??= Stage(() => LoadTokenizer(file), dir);
                        break;
                    case FuzzTarget.Safetensors or FuzzTarget.Config:
                        error = Stage(() => LoadModel(dir), dir);
                        break;
                    case FuzzTarget.Tokenizer:
                        error = Stage(() => LoadTokenizer(dir), dir);
                        break;
                }
                if (error != null)
                    outcome = error;
            }
            catch (FuzzFailure f)
            {
                failure = f.Message;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        bool finished;
        try
        {
            finished = task.Wait(_options.CaseTimeout);
        }
        catch (AggregateException e)
        {
            // Writing the case files failed: the campaign's own problem, not the reader's; still a failure to look at.
            finished = true;
            failure = $"case setup failed: {e.InnerException?.GetType().Name}: {e.InnerException?.Message}";
        }
        sw.Stop();
        if (!finished)
        {
            failure = $"hang: no result after {_options.CaseTimeout.TotalSeconds:F0} s";
        }
        else
        {
            long bound = _options.AllocationFactor * input.Length + _options.AllocationSlack;
            if (failure is null && allocated > bound)
                failure = $"allocated {allocated} bytes, over the bound of {bound} ({_options.AllocationFactor} x the {input.Length}-byte file + {_options.AllocationSlack >> 20} MiB)";
            if (!_options.KeepFiles)
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
        return new FuzzCaseResult(i, target, seedName, mutation, outcome, failure, sw.Elapsed, allocated, input.Length);
    }

    /// <summary>Runs one load; returns null when it succeeds, the clear error's type name, or throws <see cref="FuzzFailure"/>.</summary>
    private static string? Stage(Action load, string caseDir)
    {
        try
        {
            load();
            return null;
        }
        catch (Exception e) when (e is ModelFormatException or UnsupportedFeatureException)
        {
            if (!e.Message.Contains(caseDir, StringComparison.Ordinal))
                throw new FuzzFailure($"{e.GetType().Name} does not name the file: {e.Message}");
            return e.GetType().Name;
        }
        catch (Exception e) when (e is not FuzzFailure)
        {
            throw new FuzzFailure($"unexpected {e.GetType().FullName}: {Shorten(e.Message)} at {FirstFrame(e)}");
        }
    }

    private static string Shorten(string s) => s.Length > 300 ? s[..300] + "..." : s;

    private static string FirstFrame(Exception e)
    {
        string? st = e.StackTrace;
        if (st is null)
            return "?";
        var lines = st.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" <- ", lines.Take(3));
    }

    private static void LoadModel(string path)
    {
        using var model = LlamaModelFile.Open(path);
        int checksum = 0;
        foreach (var t in model.Tensors)
        {
            var bytes = t.Bytes;
            if (bytes.Length > 0)
                checksum += bytes[0] + bytes[^1];
        }
        GC.KeepAlive(checksum);
    }

    private static void LoadTokenizer(string path)
    {
        var tokenizer = TokenizerLoader.Load(path);
        var ids = tokenizer.Encode("1girl, solo, <|long|> smile 日本 \u00e9", addBos: true);
        _ = tokenizer.Decode(ids);
        _ = tokenizer.Decode([tokenizer.BosId, tokenizer.EosId, 0, tokenizer.VocabSize - 1]);
    }

    public void Dispose()
    {
        if (_ownsWork && !_options.KeepFiles)
        {
            try
            {
                Directory.Delete(_work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private sealed class FuzzFailure(string message) : Exception(message);
}
