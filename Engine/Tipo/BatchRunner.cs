using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Tipo.Errors;

namespace Tipo.Expansion;

/// <summary>Where a batch stands: requests answered so far (in input order), error records among them, the total when known.</summary>
internal sealed record BatchProgress(int Done, int Errors, int? Total, TimeSpan Elapsed)
{
    /// <summary>Requests answered per second of wall time so far.</summary>
    public double RequestsPerSecond => Elapsed.TotalSeconds > 0 ? Done / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// <c>tipo expand --batch</c>: reads one request object per line, runs them on one or more expanders (one worker thread
/// each, typically one per device), and writes one result object per request line in input order. A line that is not a
/// valid request, or whose request fails (bad format, context overflow, …), gives an error record
/// <c>{"line": N, "error": "…"}</c> and the batch goes on (a line's <c>id</c> field, if any, is copied after <c>"line"</c>); only a device failure (lost, out of memory) ends it.
/// Blank lines are skipped (line numbers still count them).
/// </summary>
internal static class BatchRunner
{
    private static readonly JsonWriterOptions s_compact = new() { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Runs the batch; returns the final progress (done = records written).</summary>
    /// <param name="input">Request lines.</param>
    /// <param name="output">Receives one JSON line per request line, flushed after each.</param>
    /// <param name="workers">One per worker thread; each runs one request at a time.</param>
    /// <param name="defaults">The request a line's absent fields come from.</param>
    /// <param name="total">The number of non-blank lines when known in advance (for progress), else null.</param>
    /// <param name="progress">Told after each record is written, on the calling thread.</param>
    public static BatchProgress Run(TextReader input, TextWriter output, IReadOnlyList<TipoExpander> workers, TipoRequest defaults,
        int? total = null, Action<BatchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(workers);
        ArgumentNullException.ThrowIfNull(defaults);
        if (workers.Count == 0)
            throw new ArgumentException("a batch needs at least one worker", nameof(workers));

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        CancellationToken ct = cts.Token;
        // Bounds the lines in flight (queued, running, or answered but waiting for an earlier line to be written).
        using var window = new SemaphoreSlim(Math.Max(16, workers.Count * 8));
        using var queue = new BlockingCollection<(int Index, int Line, string Text)>();
        var done = new Dictionary<int, (string Json, bool Error)>();
        var gate = new object();
        int read = -1; // lines queued, known once the reader finishes
        Exception? fatal = null;
        var clock = Stopwatch.StartNew();

        void Fail(Exception e)
        {
            lock (gate)
            {
                fatal ??= e;
                Monitor.PulseAll(gate);
            }
            cts.Cancel();
        }

        var reader = Task.Factory.StartNew(() =>
        {
            int index = 0, lineNo = 0;
            try
            {
                string? text;
                while ((text = input.ReadLine()) != null)
                {
                    lineNo++;
                    if (string.IsNullOrWhiteSpace(text))
                        continue;
                    window.Wait(ct);
                    queue.Add((index++, lineNo, text), ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                queue.CompleteAdding();
                lock (gate)
                {
                    read = index;
                    Monitor.PulseAll(gate);
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var threads = workers.Select(worker => Task.Factory.StartNew(() =>
        {
            try
            {
                foreach (var (index, line, text) in queue.GetConsumingEnumerable(ct))
                {
                    (string Json, bool Error) record = Answer(worker, line, text, defaults, ct);
                    lock (gate)
                    {
                        done[index] = record;
                        Monitor.PulseAll(gate);
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        int written = 0, errors = 0;
        try
        {
            while (true)
            {
                (string Json, bool Error) record;
                lock (gate)
                {
                    while (fatal == null && !done.ContainsKey(written) && !(read >= 0 && written >= read) && !ct.IsCancellationRequested)
                        Monitor.Wait(gate, 200);
                    if (fatal != null)
                        break;
                    if (!done.Remove(written, out record))
                    {
                        if (read >= 0 && written >= read)
                            break;
                        ct.ThrowIfCancellationRequested();
                        continue;
                    }
                }
                output.WriteLine(record.Json);
                output.Flush();
                window.Release();
                written++;
                if (record.Error)
                    errors++;
                progress?.Invoke(new BatchProgress(written, errors, total, clock.Elapsed));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail(e); // the output failed (disk full, closed pipe): stop everything
        }
        finally
        {
            cts.Cancel();
            try
            {
                Task.WaitAll([reader, .. threads]);
            }
            catch (AggregateException)
            {
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (fatal != null)
            throw new BatchFailedException(written, fatal);
        return new BatchProgress(written, errors, total ?? written, clock.Elapsed);
    }

    /// <summary>One line's record: the <c>--json</c> object with <c>"line"</c> first, or an error record.</summary>
    internal static (string Json, bool Error) Answer(TipoExpander worker, int line, string text, TipoRequest defaults, CancellationToken ct)
    {
        TipoResult result;
        string? id = null;
        try
        {
            TipoRequest request = BatchRequestParser.Parse(text, defaults, out id);
            result = worker.Expand(request, ct);
        }
        catch (Exception e) when (!IsFatal(e) && e is not OperationCanceledException)
        {
            return (ErrorRecord(line, e.Message, id), true);
        }
        return (ResultRecord(line, result, id), false);
    }

    /// <summary>Errors that say the device (not the request) is broken: the batch stops.</summary>
    internal static bool IsFatal(Exception e) =>
        e is DeviceLostException or OutOfDeviceMemoryException or VulkanUnavailableException or DeviceNotFoundException
            or OutOfMemoryException or ObjectDisposedException;

    internal static string ErrorRecord(int line, string message, string? id = null) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("line", line);
        WriteId(w, id);
        w.WriteString("error", message);
        w.WriteEndObject();
    });

    internal static string ResultRecord(int line, TipoResult result, string? id = null)
    {
        using var doc = JsonDocument.Parse(TipoJson.Result(result));
        return Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("line", line);
            WriteId(w, id);
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
                p.WriteTo(w);
            w.WriteEndObject();
        });
    }

    private static void WriteId(Utf8JsonWriter w, string? id)
    {
        if (id == null)
            return;
        w.WritePropertyName("id");
        w.WriteRawValue(id);
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, s_compact))
            body(writer);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}

/// <summary>A batch stopped early: a device failed, or the output could not be written. The records before it were written.</summary>
internal sealed class BatchFailedException(int written, Exception inner)
    : Exception($"{inner.Message} (batch stopped after {written} records)", inner)
{
    /// <summary>Records written before the failure.</summary>
    public int Written { get; } = written;
}
