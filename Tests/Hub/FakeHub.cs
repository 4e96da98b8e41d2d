using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tipo.Tests.Hub;

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 that answers like the Hugging Face hub (API revision info, resolve URLs with
/// HEAD/GET, LFS redirects to a "CDN" path, Range requests, X-Error-Code) and like raw.githubusercontent.com for
/// KGen's tag lists. Knobs make it drop connections mid-file, corrupt a file, or demand a token.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    public sealed class Repo
    {
        public required string Commit { get; init; }
        public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Lfs { get; } = new(StringComparer.Ordinal);
    }

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public Dictionary<string, Repo> Repos { get; } = new(StringComparer.Ordinal);
    /// <summary>Raw files by URL path (tag lists).</summary>
    public Dictionary<string, byte[]> Raw { get; } = new(StringComparer.Ordinal);
    /// <summary>File name → (bytes to send before closing the connection, how many more GETs to drop).</summary>
    public ConcurrentDictionary<string, (long Bytes, int Times)> Drop { get; } = new(StringComparer.Ordinal);
    /// <summary>Files served with one byte flipped (size and ETag unchanged).</summary>
    public HashSet<string> Corrupt { get; } = new(StringComparer.Ordinal);
    /// <summary>When set, the hub's paths answer 401 unless this bearer token is sent.</summary>
    public string? RequiredToken { get; set; }
    /// <summary>Every request: "METHOD path [range=...] [auth]".</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    /// <summary>Where LFS files are redirected to (default: this server's /cdn).</summary>
    public string? CdnBase { get; set; }

    public int Port { get; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    public FakeHub()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = Task.Run(AcceptLoop);
    }

    /// <summary>A hub with repo <c>test/tipo-tiny</c> built from ../shared/models/tipo-tiny plus the tiny F16 GGUF.</summary>
    public static FakeHub WithTinyRepo(out Repo repo)
    {
        var hub = new FakeHub();
        repo = hub.AddRepo("test/tipo-tiny", TestData.Shared("models/tipo-tiny"));
        repo.Files["tipo-tiny-F16.gguf"] = File.ReadAllBytes(TestData.Shared("models/tipo-tiny-f16.gguf"));
        repo.Lfs.Add("tipo-tiny-F16.gguf");
        repo.Files["README.md"] = "# tipo-tiny\n"u8.ToArray();
        return hub;
    }

    public Repo AddRepo(string id, string dir)
    {
        var repo = new Repo { Commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(id + dir))) };
        foreach (string f in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(f);
            repo.Files[name] = File.ReadAllBytes(f);
            if (name.EndsWith(".safetensors", StringComparison.Ordinal) || name == "tokenizer.model")
                repo.Lfs.Add(name);
        }
        Repos[id] = repo;
        return repo;
    }

    public static string GitBlobSha1(byte[] content)
    {
        byte[] header = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        return Convert.ToHexStringLower(SHA1.HashData([.. header, .. content]));
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public int Count(string contains) => Log.Count(l => l.Contains(contains, StringComparison.Ordinal));

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(2000); } catch (AggregateException) { }
        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var (method, path, headers) = await ReadRequest(stream);
                headers.TryGetValue("range", out string? range);
                headers.TryGetValue("authorization", out string? auth);
                Log.Enqueue($"{method} {path}" + (range != null ? $" range={range}" : "") + (auth != null ? " auth" : ""));
                await Handle(stream, method, path, range, auth);
            }
            catch (IOException) { }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
        }
    }

    private static async Task<(string Method, string Path, Dictionary<string, string> Headers)> ReadRequest(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (buffer.Count < 65536)
        {
            int n = await stream.ReadAsync(one);
            if (n == 0)
                throw new IOException("closed");
            buffer.Add(one[0]);
            int c = buffer.Count;
            if (c >= 4 && buffer[c - 4] == '\r' && buffer[c - 3] == '\n' && buffer[c - 2] == '\r' && buffer[c - 1] == '\n')
                break;
        }
        string[] lines = Encoding.ASCII.GetString([.. buffer]).Split("\r\n");
        string[] first = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        return (first[0], first[1], headers);
    }

    private static async Task Respond(NetworkStream stream, int status, Dictionary<string, string> headers, byte[]? body, bool head, long? sendOnly = null)
    {
        var sb = new StringBuilder();
        sb.Append($"HTTP/1.1 {status} {(status switch { 200 => "OK", 206 => "Partial Content", 302 => "Found", 401 => "Unauthorized", 404 => "Not Found", 416 => "Range Not Satisfiable", _ => "X" })}\r\n");
        headers["Connection"] = "close";
        if (!headers.ContainsKey("Content-Length"))
            headers["Content-Length"] = (body?.Length ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (k, v) in headers)
            sb.Append($"{k}: {v}\r\n");
        sb.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
        if (!head && body != null)
        {
            int n = sendOnly is { } s ? (int)Math.Min(s, body.Length) : body.Length;
            await stream.WriteAsync(body.AsMemory(0, n));
        }
        await stream.FlushAsync();
    }

    private static Task Error(NetworkStream stream, int status, string? code, string message, bool head) =>
        Respond(stream, status, code == null
            ? new Dictionary<string, string> { ["X-Error-Message"] = message }
            : new Dictionary<string, string> { ["X-Error-Code"] = code, ["X-Error-Message"] = message },
            head ? null : Encoding.UTF8.GetBytes($"{{\"error\":\"{message}\"}}"), head);

    private async Task Handle(NetworkStream stream, string method, string rawPath, string? range, string? auth)
    {
        bool head = method == "HEAD";
        string path = Uri.UnescapeDataString(rawPath.Split('?')[0]);
        string[] parts = path.TrimStart('/').Split('/');

        if (Raw.TryGetValue(path, out byte[]? raw))
        {
            await SendContent(stream, path, raw, range, head, new Dictionary<string, string> { ["ETag"] = $"\"{Sha256(raw)}\"" });
            return;
        }
        if (parts.Length == 2 && parts[0] == "cdn")
        {
            var match = Repos.Values.SelectMany(r => r.Files).FirstOrDefault(f => Sha256(f.Value) == parts[1]);
            if (match.Value == null)
            {
                await Error(stream, 404, null, "no such object", head);
                return;
            }
            await SendContent(stream, match.Key, match.Value, range, head, new Dictionary<string, string> { ["ETag"] = $"\"{parts[1]}\"" });
            return;
        }
        if (RequiredToken != null && auth != $"Bearer {RequiredToken}")
        {
            await Error(stream, 401, null, "Invalid username or password.", head);
            return;
        }
        // /api/models/ORG/NAME/revision/REV
        if (parts.Length == 6 && parts[0] == "api" && parts[1] == "models" && parts[4] == "revision")
        {
            string id = parts[2] + "/" + parts[3];
            if (!Repos.TryGetValue(id, out var repo))
            {
                await Error(stream, 401, "RepoNotFound", "Repository Not Found", head);
                return;
            }
            if (parts[5] != "main" && parts[5] != repo.Commit)
            {
                await Error(stream, 404, "RevisionNotFound", $"Invalid rev id: {parts[5]}", head);
                return;
            }
            var json = JsonSerializer.SerializeToUtf8Bytes(new
            {
                id,
                sha = repo.Commit,
                siblings = repo.Files.Keys.Select(k => new { rfilename = k }).ToArray(),
            });
            await Respond(stream, 200, new Dictionary<string, string> { ["Content-Type"] = "application/json" }, json, head);
            return;
        }
        // /ORG/NAME/resolve/REV/FILE...
        if (parts.Length >= 5 && parts[2] == "resolve")
        {
            string id = parts[0] + "/" + parts[1];
            string rev = parts[3];
            string file = string.Join('/', parts[4..]);
            if (!Repos.TryGetValue(id, out var repo))
            {
                await Error(stream, 401, "RepoNotFound", "Repository Not Found", head);
                return;
            }
            if (rev != "main" && rev != repo.Commit)
            {
                await Error(stream, 404, "RevisionNotFound", $"Invalid rev id: {rev}", head);
                return;
            }
            if (!repo.Files.TryGetValue(file, out byte[]? content))
            {
                await Error(stream, 404, "EntryNotFound", $"{file} does not exist on \"{rev}\"", head);
                return;
            }
            var headers = new Dictionary<string, string> { ["X-Repo-Commit"] = repo.Commit };
            if (repo.Lfs.Contains(file))
            {
                string sha = Sha256(content);
                headers["X-Linked-Etag"] = $"\"{sha}\"";
                headers["X-Linked-Size"] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                headers["ETag"] = $"\"{GitBlobSha1(Encoding.ASCII.GetBytes("pointer " + sha))}\"";
                headers["Location"] = $"{CdnBase ?? Endpoint}/cdn/{sha}";
                await Respond(stream, 302, headers, null, head);
                return;
            }
            headers["ETag"] = $"\"{GitBlobSha1(content)}\"";
            await SendContent(stream, file, content, range, head, headers);
            return;
        }
        await Error(stream, 404, null, "not found", head);
    }

    private async Task SendContent(NetworkStream stream, string name, byte[] content, string? range, bool head, Dictionary<string, string> headers)
    {
        string key = name.Split('/')[^1];
        if (Corrupt.Contains(key))
        {
            content = (byte[])content.Clone();
            content[content.Length / 2] ^= 0x5A;
        }
        long? sendOnly = null;
        if (!head && Drop.TryGetValue(key, out var drop) && drop.Times > 0)
        {
            Drop[key] = (drop.Bytes, drop.Times - 1);
            sendOnly = drop.Bytes;
        }
        headers["Accept-Ranges"] = "bytes";
        if (range != null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            long start = long.Parse(range[6..^1], System.Globalization.CultureInfo.InvariantCulture);
            if (start >= content.Length)
            {
                headers["Content-Range"] = $"bytes */{content.Length}";
                await Respond(stream, 416, headers, null, head);
                return;
            }
            byte[] part = content[(int)start..];
            headers["Content-Range"] = $"bytes {start}-{content.Length - 1}/{content.Length}";
            await Respond(stream, 206, headers, part, head, sendOnly);
            return;
        }
        await Respond(stream, 200, headers, content, head, sendOnly);
    }
}
