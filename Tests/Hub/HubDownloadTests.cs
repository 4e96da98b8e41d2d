using System.Net;
using System.Net.Sockets;
using Tipo.Errors;
using Tipo.Hub;
using Tipo.Models;

namespace Tipo.Tests.Hub;

/// <summary>Downloads from a local fake hub (127.0.0.1) serving a repo built from ../shared/models/tipo-tiny.</summary>
public class HubDownloadTests : FakeHubTest
{
    private const string RepoId = "test/tipo-tiny";
    private HubClient Client(string? endpoint = null, bool offline = false, int attempts = 5, string? token = null) =>
        new(new HubOptions
        {
            Endpoint = endpoint ?? Hub.Endpoint,
            CacheDir = CacheDir,
            Offline = offline,
            MaxAttempts = attempts,
            RetryDelay = TimeSpan.FromMilliseconds(10),
            Timeout = TimeSpan.FromSeconds(10),
            Token = token,
        });

    private string RepoDir => Path.Combine(CacheDir, "models--test--tipo-tiny");

    private static int ClosedPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>NUnit's collection equality is far too slow for megabytes.</summary>
    internal static void AssertSameBytes(string path, byte[] expected) =>
        Assert.That(File.ReadAllBytes(path).AsSpan().SequenceEqual(expected), Is.True, $"{path} differs from what the server holds");

    private void AssertNoPartialModel(string file)
    {
        var cache = new HuggingFaceCache(CacheDir);
        Assert.That(cache.TryGetFile(RepoId, file), Is.Null, "no snapshot entry");
        if (Directory.Exists(Path.Combine(RepoDir, "snapshots")))
            Assert.That(Directory.EnumerateFiles(Path.Combine(RepoDir, "snapshots"), file, SearchOption.AllDirectories), Is.Empty);
        if (Directory.Exists(Path.Combine(RepoDir, "blobs")))
            Assert.That(Directory.EnumerateFiles(Path.Combine(RepoDir, "blobs")), Is.Empty, "no blob, no .incomplete");
    }

    [Test]
    public async Task RepoDownloadUsesTheHuggingFaceCacheLayout()
    {
        using var client = Client();
        var progress = new List<DownloadProgress>();
        string snapshot = await client.DownloadRepoAsync(RepoId, progress: new SyncProgress(progress.Add));

        Assert.That(snapshot, Is.EqualTo(Path.Combine(RepoDir, "snapshots", Repo.Commit)));
        Assert.That(File.ReadAllText(Path.Combine(RepoDir, "refs", "main")), Is.EqualTo(Repo.Commit));
        var expected = Repo.Files.Keys.Where(HubClient.IsModelFile).Order(StringComparer.Ordinal).ToList();
        Assert.That(expected, Does.Contain("model.safetensors").And.Contain("tokenizer.model").And.Contain("config.json"));
        Assert.That(Directory.EnumerateFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal), Is.EqualTo(expected),
            "HF files only: no GGUF, no README");
        foreach (string f in expected)
        {
            var info = new FileInfo(Path.Combine(snapshot, f));
            string etag = Repo.Lfs.Contains(f) ? FakeHub.Sha256(Repo.Files[f]) : FakeHub.GitBlobSha1(Repo.Files[f]);
            Assert.That(info.LinkTarget, Is.EqualTo($"../../blobs/{etag}"), f);
            AssertSameBytes(info.FullName, Repo.Files[f]);
        }
        Assert.That(Directory.EnumerateFiles(Path.Combine(RepoDir, "blobs"), "*.incomplete"), Is.Empty);
        Assert.That(progress.Any(p => p.Stage == DownloadStage.Done && p.Name.EndsWith("model.safetensors", StringComparison.Ordinal)));

        using var model = LlamaModelFile.Open(snapshot);
        Assert.That(model.Config.HiddenSize, Is.EqualTo(128));
    }

    [Test]
    public async Task GgufFileByReferenceAndReuseWithoutNetwork()
    {
        using (var client = Client())
        {
            string path = await ModelResolver.ResolveAsync($"{RepoId}:tipo-tiny-F16.gguf", client);
            Assert.That(path, Is.EqualTo(Path.Combine(RepoDir, "snapshots", Repo.Commit, "tipo-tiny-F16.gguf")));
            AssertSameBytes(path, Repo.Files["tipo-tiny-F16.gguf"]);
            Assert.That(File.Exists(Path.Combine(RepoDir, "blobs", FakeHub.Sha256(Repo.Files["tipo-tiny-F16.gguf"]))));
        }
        int requests = Hub.Log.Count;
        Assert.That(ModelResolver.TryResolveWithoutNetwork($"{RepoId}:tipo-tiny-F16.gguf", new HuggingFaceCache(CacheDir)), Does.EndWith("tipo-tiny-F16.gguf"));
        Assert.That(ModelResolver.TryResolveWithoutNetwork(RepoId, new HuggingFaceCache(CacheDir)), Is.Null, "HF files not fetched yet");

        // The resolver looks in the cache first: no request at all.
        using (var client = Client())
            Assert.That(await ModelResolver.ResolveAsync($"{RepoId} | tipo-tiny-F16.gguf", client), Does.EndWith("tipo-tiny-F16.gguf"));
        Assert.That(Hub.Log, Has.Count.EqualTo(requests));

        // Offline and unreachable: the download falls back to the cache.
        using (var client = Client(offline: true))
            Assert.That(await client.DownloadFileAsync(RepoId, "tipo-tiny-F16.gguf"), Does.EndWith("tipo-tiny-F16.gguf"));
        Hub.Dispose();
        using (var client = Client(endpoint: $"http://127.0.0.1:{ClosedPort()}"))
            Assert.That(await client.DownloadFileAsync(RepoId, "tipo-tiny-F16.gguf"), Does.EndWith("tipo-tiny-F16.gguf"));
    }

    [Test]
    public async Task SecondDownloadOnlyChecksTheHub()
    {
        using var client = Client();
        await client.DownloadRepoAsync(RepoId);
        int cdnGets = Hub.Count("GET /cdn/");
        Assert.That(cdnGets, Is.EqualTo(2), "model.safetensors and tokenizer.model from the CDN");
        await client.DownloadRepoAsync(RepoId);
        Assert.That(Hub.Count("GET /cdn/"), Is.EqualTo(cdnGets), "nothing fetched again");
        Assert.That(Hub.Count("GET /test/tipo-tiny/resolve/"), Is.EqualTo(5), "the small files once");
    }

    [Test]
    public async Task ResumesAfterTheServerDropsTheConnection()
    {
        Hub.Drop["model.safetensors"] = (5_000_000, 2);
        using var client = Client();
        string snapshot = await client.DownloadRepoAsync(RepoId);
        AssertSameBytes(Path.Combine(snapshot, "model.safetensors"), Repo.Files["model.safetensors"]);
        Assert.That(Hub.Log.Where(l => l.StartsWith("GET /cdn/", StringComparison.Ordinal)).Select(l => l.Split(' ').ElementAtOrDefault(2)),
            Does.Contain("range=bytes=5000000-").And.Contain("range=bytes=10000000-"));
    }

    [Test]
    public async Task ResumesAnInterruptedDownloadOnTheNextRun()
    {
        const string gguf = "tipo-tiny-F16.gguf";
        Hub.Drop[gguf] = (3_000_000, 1);
        using (var client = Client(attempts: 1))
        {
            var e = Assert.ThrowsAsync<DownloadException>(() => client.DownloadFileAsync(RepoId, gguf));
            Assert.That(e!.Message, Does.Contain("run the same command again to resume").And.Contain(gguf));
        }
        string blob = Path.Combine(RepoDir, "blobs", FakeHub.Sha256(Repo.Files[gguf]));
        Assert.That(new FileInfo(blob + ".incomplete").Length, Is.EqualTo(3_000_000));
        Assert.That(File.Exists(blob), Is.False);
        Assert.That(new HuggingFaceCache(CacheDir).TryGetFile(RepoId, gguf), Is.Null, "a half file is never taken for a model");

        using (var client = Client())
            AssertSameBytes(await client.DownloadFileAsync(RepoId, gguf), Repo.Files[gguf]);
        Assert.That(Hub.Log, Has.Some.Contains("range=bytes=3000000-"));
        Assert.That(File.Exists(blob + ".incomplete"), Is.False);
    }

    [Test]
    public void NotFoundNamesRepoFileAndRevision()
    {
        using var client = Client();
        var e = Assert.ThrowsAsync<DownloadException>(() => client.DownloadFileAsync(RepoId, "missing.gguf"));
        Assert.That(e!.StatusCode, Is.EqualTo(404));
        Assert.That(e.Message, Does.Contain("missing.gguf").And.Contain(RepoId).And.Contain("revision main").And.Contain("404"));
        AssertNoPartialModel("missing.gguf");

        e = Assert.ThrowsAsync<DownloadException>(() => client.DownloadFileAsync(RepoId, "config.json", "v9"));
        Assert.That(e!.Message, Does.Contain("revision v9 not found in test/tipo-tiny"));

        e = Assert.ThrowsAsync<DownloadException>(() => ModelResolver.ResolveAsync("test/nope", client));
        Assert.That(e!.Message, Does.Contain("repository test/nope not found").And.Contain("HF_TOKEN"));
        Assert.That(Directory.Exists(Path.Combine(CacheDir, "models--test--nope")), Is.False);
    }

    [Test]
    public void WrongChecksumLeavesNothingBehind()
    {
        Hub.Corrupt.Add("tipo-tiny-F16.gguf");
        using var client = Client();
        var e = Assert.ThrowsAsync<DownloadException>(() => client.DownloadFileAsync(RepoId, "tipo-tiny-F16.gguf"));
        Assert.That(e!.Message, Does.Contain("checksum mismatch").And.Contain("tipo-tiny-F16.gguf").And.Contain(FakeHub.Sha256(Repo.Files["tipo-tiny-F16.gguf"])));
        AssertNoPartialModel("tipo-tiny-F16.gguf");
    }

    [Test]
    public void WrongContentOfASmallFileIsCaughtByItsGitBlobId()
    {
        Hub.Corrupt.Add("config.json");
        using var client = Client();
        var e = Assert.ThrowsAsync<DownloadException>(() => client.DownloadFileAsync(RepoId, "config.json"));
        Assert.That(e!.Message, Does.Contain("checksum mismatch").And.Contain("config.json").And.Contain(FakeHub.GitBlobSha1(Repo.Files["config.json"])));
        AssertNoPartialModel("config.json");
    }

    [Test]
    public async Task TokenIsSentAndRequired()
    {
        Hub.RequiredToken = "hf_secret";
        using (var client = Client())
        {
            var e = Assert.ThrowsAsync<DownloadException>(() => client.DownloadFileAsync(RepoId, "config.json"));
            Assert.That(e!.StatusCode, Is.EqualTo(401));
            Assert.That(e.Message, Does.Contain("set HF_TOKEN").And.Contain(RepoId).And.Contain("config.json"));
        }
        using (var client = Client(token: "hf_secret"))
            Assert.That(await client.DownloadFileAsync(RepoId, "config.json"), Does.EndWith("config.json"));
    }

    [Test]
    public void OfflineWithNothingCachedSaysWhatToPass()
    {
        using var client = Client(offline: true);
        var e = Assert.ThrowsAsync<DownloadException>(() => ModelResolver.ResolveAsync("TIPO-500M-ft", client));
        Assert.That(e!.Message, Does.Contain("HF_HUB_OFFLINE").And.Contain("KBlueLeaf/TIPO-500M-ft").And.Contain("TIPO-500M-ft-F16.gguf")
            .And.Contain("--model PATH"));
        Assert.That(Hub.Log, Is.Empty);
    }

    [Test]
    public void UnreachableHostIsNamed()
    {
        int port = ClosedPort();
        using var client = Client(endpoint: $"http://127.0.0.1:{port}");
        var e = Assert.ThrowsAsync<DownloadException>(() => ModelResolver.ResolveAsync(ModelAliases.Default.Alias, client));
        Assert.That(e!.Message, Does.Contain($"could not reach 127.0.0.1:{port}").And.Contain("--model PATH").And.Contain("HF_ENDPOINT")
            .And.Contain("KBlueLeaf/TIPO-500M-ft"));
        Assert.That(Directory.Exists(Path.Combine(CacheDir, "models--KBlueLeaf--TIPO-500M-ft", "snapshots")), Is.False);
    }

    [Test]
    public void UnreachableCdnIsADownloadError()
    {
        Hub.CdnBase = $"http://127.0.0.1:{ClosedPort()}";
        using var client = Client();
        var e = Assert.ThrowsAsync<DownloadException>(() => client.DownloadFileAsync(RepoId, "tipo-tiny-F16.gguf"));
        Assert.That(e!.Message, Does.Contain("could not reach 127.0.0.1:").And.Contain("where 127.0.0.1:" + Hub.Port + " sends the file"));
        AssertNoPartialModel("tipo-tiny-F16.gguf");
    }

    [Test]
    public async Task ExistingPathsAreTakenAsIs()
    {
        string dir = TestData.Shared("models/tipo-tiny");
        Assert.That(await ModelResolver.ResolveAsync(dir), Is.EqualTo(Path.GetFullPath(dir)));
        Assert.ThrowsAsync<FileNotFoundException>(() => ModelResolver.ResolveAsync("./no/such/model.gguf"));
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<DownloadProgress> action) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => action(value);
    }
}
