using System.Net;
using System.Net.Sockets;
using System.Text;
using Tipo.Errors;
using Tipo.Hub;

namespace Tipo.Tests.Hub;

/// <summary>KGen's tag lists fetched from a local stand-in for raw.githubusercontent.com.</summary>
public class TagListCacheTests
{
    private string _cacheDir = "";
    private FakeHub _server = null!;
    private readonly Dictionary<string, byte[]> _lists = new(StringComparer.Ordinal);

    [SetUp]
    public void SetUp()
    {
        _cacheDir = Path.Combine(Path.GetTempPath(), "tipo-tags-test-" + Guid.NewGuid().ToString("N"));
        _server = new FakeHub();
        string shared = TestData.Shared("tipo/tag-list");
        foreach (string name in TagListCache.Names)
        {
            string file = Path.Combine(shared, name + ".txt");
            _lists[name] = File.Exists(file) ? File.ReadAllBytes(file) : Encoding.UTF8.GetBytes("ningen mame\nciloranko\nquasarcake\n");
            _server.Raw[$"/KohakuBlueleaf/KGen/{TagListCache.PinnedCommit}/src/kgen/tag-list/{name}.txt"] = _lists[name];
        }
    }

    [TearDown]
    public void TearDown()
    {
        _server.Dispose();
        if (Directory.Exists(_cacheDir))
            Directory.Delete(_cacheDir, recursive: true);
    }

    private TagListCache Cache(string? baseUrl = null, bool offline = false, int attempts = 5) =>
        new(_cacheDir, baseUrl ?? _server.Endpoint + "/KohakuBlueleaf/KGen", offline, maxAttempts: attempts, retryDelay: TimeSpan.FromMilliseconds(10));

    [Test]
    public void UrlIsRawGitHubAtThePinnedCommit()
    {
        using var cache = new TagListCache(_cacheDir, TagListCache.DefaultBaseUrl);
        Assert.That(cache.UrlFor("meta").AbsoluteUri,
            Is.EqualTo("https://raw.githubusercontent.com/KohakuBlueleaf/KGen/8c82b48a7157ad3ea07312b2bf53d9ff35b93b46/src/kgen/tag-list/meta.txt"));
    }

    [Test]
    public async Task FetchesOnceThenWorksOffline()
    {
        using (var cache = Cache())
        {
            string dir = await cache.EnsureAsync();
            Assert.That(dir, Is.EqualTo(Path.Combine(_cacheDir, "tag-list", TagListCache.PinnedCommit)));
            foreach (string name in TagListCache.Names)
                HubDownloadTests.AssertSameBytes(Path.Combine(dir, name + ".txt"), _lists[name]);
            Assert.That(Directory.EnumerateFiles(dir, "*.incomplete"), Is.Empty);
        }
        int requests = _server.Log.Count;
        using (var cache = Cache(offline: true))
        {
            Assert.That(cache.IsComplete);
            Assert.That(await cache.EnsureAsync(), Does.EndWith(TagListCache.PinnedCommit));
        }
        Assert.That(_server.Log, Has.Count.EqualTo(requests));
    }

    [Test]
    public async Task ResumesAfterADroppedConnection()
    {
        _server.Drop["characters.txt"] = (1_000_000, 1);
        using var cache = Cache();
        string dir = await cache.EnsureAsync();
        HubDownloadTests.AssertSameBytes(Path.Combine(dir, "characters.txt"), _lists["characters"]);
        Assert.That(_server.Log, Has.Some.Contains("range=bytes=1000000-"));
    }

    [Test]
    public void InterruptedFetchIsNeverTakenForAList()
    {
        _server.Drop["copyrights.txt"] = (100_000, 1);
        using var cache = Cache(attempts: 1);
        Assert.ThrowsAsync<DownloadException>(() => cache.EnsureAsync());
        Assert.That(File.Exists(cache.PathFor("copyrights")), Is.False);
        Assert.That(cache.IsComplete, Is.False);
    }

    [Test]
    public void MissingListAndUnreachableHostSayWhatToPass()
    {
        _server.Raw.Remove($"/KohakuBlueleaf/KGen/{TagListCache.PinnedCommit}/src/kgen/tag-list/meta.txt");
        using (var cache = Cache())
        {
            var e = Assert.ThrowsAsync<DownloadException>(() => cache.EnsureAsync());
            Assert.That(e!.Message, Does.Contain("HTTP 404").And.Contain("meta.txt").And.Contain("--tag-lists DIR"));
            Assert.That(File.Exists(cache.PathFor("meta")), Is.False);
        }
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        using (var cache = Cache(baseUrl: $"http://127.0.0.1:{port}/KohakuBlueleaf/KGen"))
        {
            var e = Assert.ThrowsAsync<DownloadException>(() => cache.EnsureAsync());
            Assert.That(e!.Message, Does.Contain($"could not reach 127.0.0.1:{port}").And.Contain("--tag-lists DIR"));
        }
        using (var cache = Cache(offline: true))
        {
            var e = Assert.ThrowsAsync<DownloadException>(() => cache.EnsureAsync());
            Assert.That(e!.Message, Does.Contain("HF_HUB_OFFLINE").And.Contain("--tag-lists DIR"));
        }
    }

    [Test]
    public void OverrideFolderWins()
    {
        string shared = TestData.Shared("tipo/tag-list");
        Assert.That(TagListCache.Resolve(shared), Is.EqualTo(Path.GetFullPath(shared)));
        Assert.Throws<DirectoryNotFoundException>(() => TagListCache.Resolve(Path.Combine(_cacheDir, "nope")));
    }
}
