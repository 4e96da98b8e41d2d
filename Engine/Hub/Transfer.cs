using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Tipo.Errors;

namespace Tipo.Hub;

/// <summary>An HTTP error status, before the caller turns it into a message that names what was asked for.</summary>
internal sealed class HttpStatusError : Exception
{
    public HttpStatusCode Status { get; }
    public string? ErrorCode { get; }
    public string? ServerMessage { get; }
    public Uri Url { get; }

    public HttpStatusError(Uri url, HttpStatusCode status, string? errorCode, string? serverMessage)
        : base($"HTTP {(int)status} from {url.GetLeftPart(UriPartial.Path)}")
        => (Url, Status, ErrorCode, ServerMessage) = (url, status, errorCode, serverMessage);
}

/// <summary>The host could not be reached at all (DNS, refused, timed out before any answer).</summary>
internal sealed class HostUnreachableError : Exception
{
    public string Host { get; }
    public HostUnreachableError(string host, Exception inner) : base($"could not reach {host}: {inner.Message}", inner) => Host = host;
}

/// <summary>
/// Moves bytes from a URL into a file with the care a model deserves: into a temporary name (<c>.incomplete</c>),
/// resuming with <c>Range</c> after a dropped connection, checking the size and (where known) the SHA-256, and only
/// then renaming to the final name. A file that fails its checks is deleted, never renamed.
/// </summary>
internal sealed class Transfer : IDisposable
{
    private const int BufferSize = 1 << 20;
    private readonly HttpClient _http;
    private readonly Uri? _authBase;
    private readonly string? _token;
    private readonly int _maxAttempts;
    private readonly TimeSpan _retryDelay;
    private readonly TimeSpan _timeout;

    // authBase: the host the token may be sent to (the hub's endpoint); never to other hosts (CDN redirects).
    public Transfer(Uri? authBase, string? token, int maxAttempts, TimeSpan retryDelay, TimeSpan timeout, HttpMessageHandler? handler = null)
    {
        _authBase = authBase;
        _token = token;
        _maxAttempts = Math.Max(1, maxAttempts);
        _retryDelay = retryDelay;
        _timeout = timeout;
        handler ??= new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = timeout,
        };
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("tipo/0.1");
        _http.DefaultRequestHeaders.AcceptEncoding.ParseAdd("identity");
    }

    public void Dispose() => _http.Dispose();

    private HttpRequestMessage NewRequest(HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        if (_token != null && _authBase != null && Uri.Compare(url, _authBase, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        return request;
    }

    /// <summary>
    /// Sends a request, following redirects by hand (only relative ones when <paramref name="followAbsolute"/> is false,
    /// as <c>huggingface_hub</c> does for HEAD: the LFS redirect to the CDN carries the metadata), so the token never leaves the hub's host. Error statuses throw
    /// <see cref="HttpStatusError"/>; failures to connect throw <see cref="HostUnreachableError"/>.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, bool followAbsolute, Action<HttpRequestMessage>? configure, CancellationToken ct)
    {
        for (int hop = 0; ; hop++)
        {
            using var request = NewRequest(method, url);
            configure?.Invoke(request);
            HttpResponseMessage response;
            using (var headerCts = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                headerCts.CancelAfter(_timeout);
                try
                {
                    response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headerCts.Token).ConfigureAwait(false);
                }
                catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError)
                {
                    throw new HostUnreachableError(url.Authority, e);
                }
                catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
                {
                    throw new HostUnreachableError(url.Authority, new TimeoutException($"no answer within {_timeout.TotalSeconds:0} s", e));
                }
            }
            int code = (int)response.StatusCode;
            if (code is >= 300 and < 400 && response.Headers.Location is { } location && hop < 10)
            {
                if (location.IsAbsoluteUri && !followAbsolute)
                    return response;
                response.Dispose();
                url = location.IsAbsoluteUri ? location : new Uri(url, location);
                continue;
            }
            if (code >= 400)
            {
                string? errorCode = Header(response, "X-Error-Code");
                string? message = Header(response, "X-Error-Message");
                response.Dispose();
                throw new HttpStatusError(url, response.StatusCode, errorCode, message);
            }
            return response;
        }
    }

    public static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
            return values.FirstOrDefault();
        return null;
    }

    /// <summary>
    /// Downloads <paramref name="url"/> into <paramref name="finalPath"/> via <paramref name="tempPath"/>, resuming what
    /// is already in <paramref name="tempPath"/>. Checks the size against <paramref name="expectedSize"/> (or the
    /// server's Content-Length) and the SHA-256 against <paramref name="expectedSha256"/> when given.
    /// </summary>
    /// <remarks>
    /// <c>expectedGitSha1</c>: for small (non-LFS) hub files, the git blob id their ETag carries; checked when given.
    /// <c>validate</c>: a last look at the complete temporary file; returns why it is unusable, or null.
    /// </remarks>
    public async Task DownloadAsync(Uri url, string tempPath, string finalPath, long? expectedSize, string? expectedSha256,
        string name, IProgress<DownloadProgress>? progress, CancellationToken ct,
        string? expectedGitSha1 = null, Func<string, string?>? validate = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(tempPath)!);
        bool connectedOnce = false;
        Exception? last = null;
        for (int attempt = 1; attempt <= _maxAttempts; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            long have = File.Exists(tempPath) ? new FileInfo(tempPath).Length : 0;
            if (expectedSize is { } want && have > want)
            {
                File.Delete(tempPath);
                have = 0;
            }
            if (expectedSize is { } w && have == w && have > 0)
            {
                last = null;
                break; // everything is already here; verify below
            }
            progress?.Report(new DownloadProgress(name, have, expectedSize, DownloadStage.Starting));
            try
            {
                using var response = await SendAsync(HttpMethod.Get, url, followAbsolute: true,
                    r => { if (have > 0) r.Headers.Range = new RangeHeaderValue(have, null); }, ct).ConfigureAwait(false);
                connectedOnce = true;
                bool append = false;
                if (response.StatusCode == HttpStatusCode.PartialContent)
                {
                    long? start = response.Content.Headers.ContentRange?.From;
                    append = start == have;
                    if (!append && start != 0)
                        throw new IOException($"server answered a range starting at {start}, asked {have}");
                }
                long? total = expectedSize;
                if (total == null)
                {
                    if (response.Content.Headers.ContentRange?.Length is { } l)
                        total = l;
                    else if (response.StatusCode == HttpStatusCode.OK && response.Content.Headers.ContentLength is { } cl)
                        total = cl;
                    expectedSize = total;
                }
                await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                await using var file = new FileStream(tempPath, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferSize);
                long done = append ? have : 0;
                var buffer = new byte[BufferSize];
                long lastReport = Environment.TickCount64;
                while (true)
                {
                    int n;
                    using (var readCts = CancellationTokenSource.CreateLinkedTokenSource(ct))
                    {
                        readCts.CancelAfter(_timeout);
                        try
                        {
                            n = await body.ReadAsync(buffer, readCts.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
                        {
                            throw new IOException($"no data for {_timeout.TotalSeconds:0} s", e);
                        }
                    }
                    if (n == 0)
                        break;
                    await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    done += n;
                    if (total is { } t && done > t)
                        break; // more than announced: caught by the size check below
                    long now = Environment.TickCount64;
                    if (now - lastReport >= 100)
                    {
                        lastReport = now;
                        progress?.Report(new DownloadProgress(name, done, total, DownloadStage.Downloading));
                    }
                }
                await file.FlushAsync(ct).ConfigureAwait(false);
                progress?.Report(new DownloadProgress(name, done, total, DownloadStage.Downloading));
                if (total is { } expected && done < expected)
                {
                    last = new IOException($"connection closed after {done} of {expected} bytes"); // resume after the pause below
                }
                else
                {
                    last = null;
                    break;
                }
            }
            catch (HostUnreachableError e) when (connectedOnce && attempt < _maxAttempts)
            {
                last = e;
            }
            catch (HttpStatusError e) when ((int)e.Status >= 500 || e.Status == HttpStatusCode.TooManyRequests || e.Status == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                if (e.Status == HttpStatusCode.RequestedRangeNotSatisfiable)
                    CacheFileDelete(tempPath);
                last = e;
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !ct.IsCancellationRequested)
            {
                last = e;
            }
            if (attempt < _maxAttempts)
                await Task.Delay(_retryDelay * (1 << Math.Min(attempt - 1, 5)), ct).ConfigureAwait(false);
        }

        if (last != null)
        {
            if (last is HostUnreachableError or HttpStatusError)
                throw last;
            long have = File.Exists(tempPath) ? new FileInfo(tempPath).Length : 0;
            throw new DownloadException(
                $"download of {name} failed after {_maxAttempts} attempts, {have} of {expectedSize?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} bytes received ({last.Message}); " +
                "run the same command again to resume", last);
        }

        long size = new FileInfo(tempPath).Length;
        if (expectedSize is { } exp && size != exp)
        {
            CacheFileDelete(tempPath);
            throw new DownloadException($"download of {name} has {size} bytes, the server announced {exp}; the partial file was deleted") { FileName = name };
        }
        if (expectedSha256 != null)
        {
            progress?.Report(new DownloadProgress(name, size, expectedSize, DownloadStage.Verifying));
            string actual = await Sha256Async(tempPath, ct).ConfigureAwait(false);
            if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
            {
                CacheFileDelete(tempPath);
                throw new DownloadException(
                    $"checksum mismatch for {name}: SHA-256 {actual}, the hub says {expectedSha256.ToLowerInvariant()}; the file was deleted, nothing was cached. Run the command again; if it repeats, the server or a proxy is corrupting the file")
                { FileName = name };
            }
        }
        if (expectedGitSha1 != null)
        {
            string actual = await GitBlobSha1Async(tempPath, ct).ConfigureAwait(false);
            if (!string.Equals(actual, expectedGitSha1, StringComparison.OrdinalIgnoreCase))
            {
                CacheFileDelete(tempPath);
                throw new DownloadException(
                    $"checksum mismatch for {name}: git blob id {actual}, the hub says {expectedGitSha1.ToLowerInvariant()}; the file was deleted, nothing was cached")
                { FileName = name };
            }
        }
        if (validate?.Invoke(tempPath) is { } problem)
        {
            CacheFileDelete(tempPath);
            throw new DownloadException($"download of {name} is unusable: {problem}; the file was deleted") { FileName = name };
        }
        Directory.CreateDirectory(Path.GetDirectoryName(finalPath)!);
        File.Move(tempPath, finalPath, overwrite: true);
        progress?.Report(new DownloadProgress(name, size, size, DownloadStage.Done));
    }

    private static void CacheFileDelete(string path) => HuggingFaceCache.TryDelete(path);

    /// <summary>git's object id of a file: SHA-1 of <c>"blob {size}\0"</c> and the contents (the hub's ETag of non-LFS files).</summary>
    public static async Task<string> GitBlobSha1Async(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(System.Text.Encoding.ASCII.GetBytes($"blob {stream.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)}\0"));
        var buffer = new byte[BufferSize];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            sha1.AppendData(buffer, 0, n);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    public static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        byte[] hash = await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }
}
