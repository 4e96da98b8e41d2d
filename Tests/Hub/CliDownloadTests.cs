using System.Net;
using System.Net.Sockets;
using Tipo.Hub;

namespace Tipo.Tests.Hub;

/// <summary>Runs the built <c>tipo</c> CLI against the local fake hub.</summary>
public class CliDownloadTests : FakeHubTest
{
    private (int Code, string Out, string Err) Tipo(string endpoint, params string[] args)
    {
        return TipoCli.Run(args, new Dictionary<string, string?>
        {
            ["HF_ENDPOINT"] = endpoint,
            ["HF_HUB_CACHE"] = Path.Combine(CacheDir, "hub"),
            ["TIPO_CACHE"] = Path.Combine(CacheDir, "tipo"),
            ["TIPO_TAG_LIST_URL"] = endpoint + "/KohakuBlueleaf/KGen",
            ["HF_HUB_OFFLINE"] = null,
            ["HF_TOKEN"] = null,
        }, timeoutSeconds: 60);
    }

    [Test]
    public void DownloadsAFileAndListsIt()
    {
        var (code, output, err) = Tipo(Hub.Endpoint, "download", "test/tipo-tiny", "--file", "tipo-tiny-F16.gguf");
        string expected = Path.Combine(CacheDir, "hub", "models--test--tipo-tiny", "snapshots", Repo.Commit, "tipo-tiny-F16.gguf");
        Assert.That(code, Is.Zero, err);
        Assert.That(output.Trim(), Is.EqualTo(expected));
        Assert.That(err, Does.Contain("downloading test/tipo-tiny/tipo-tiny-F16.gguf").And.Contain("done"));
        HubDownloadTests.AssertSameBytes(expected, Repo.Files["tipo-tiny-F16.gguf"]);

        (code, output, err) = Tipo(Hub.Endpoint, "download", "test/tipo-tiny");
        Assert.That(code, Is.Zero, err);
        Assert.That(output.Trim(), Is.EqualTo(Path.GetDirectoryName(expected)));

        (code, output, err) = Tipo(Hub.Endpoint, "models");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("TIPO-500M-ft (default)\tKBlueLeaf/TIPO-500M-ft\tTIPO-500M-ft-F16.gguf\tno")
            .And.Contain("test/tipo-tiny\ttest/tipo-tiny\t(Hugging Face files)\tyes").And.Contain(Path.GetDirectoryName(expected)!)
            .And.Contain("cache: " + Path.Combine(CacheDir, "hub")));
    }

    [Test]
    public void DownloadsTagListsToo()
    {
        foreach (string name in TagListCache.Names)
            Hub.Raw[$"/KohakuBlueleaf/KGen/{TagListCache.PinnedCommit}/src/kgen/tag-list/{name}.txt"] =
                name switch { "meta" => File.ReadAllBytes(TestData.Shared("tipo/tag-list/meta.txt")), "copyrights" => File.ReadAllBytes(TestData.Shared("tipo/tag-list/copyrights.txt")), _ => "a\nb\n"u8.ToArray() };
        var (code, output, err) = Tipo(Hub.Endpoint, "download", "test/tipo-tiny:config.json", "--tag-lists");
        Assert.That(code, Is.Zero, err);
        Assert.That(output.Trim(), Does.EndWith("config.json"));
        string dir = Path.Combine(CacheDir, "tipo", "tag-list", TagListCache.PinnedCommit);
        Assert.That(err, Does.Contain("tag lists: " + dir));
        Assert.That(Directory.EnumerateFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "artist.txt", "characters.txt", "copyrights.txt", "meta.txt" }));
        (code, output, _) = Tipo(Hub.Endpoint, "models");
        Assert.That(output, Does.Contain("tag lists: " + dir));
    }

    [Test]
    public void FreshMachineOfflineSaysWhichHostAndWhatToPass()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var (code, output, err) = Tipo($"http://127.0.0.1:{port}", "download");
        Assert.That(code, Is.EqualTo(9), err);
        Assert.That(output, Is.Empty);
        Assert.That(err, Does.StartWith("tipo: error: could not reach 127.0.0.1:" + port)
            .And.Contain("TIPO-500M-ft-F16.gguf from KBlueLeaf/TIPO-500M-ft").And.Contain("--model PATH").And.Contain("HF_ENDPOINT"));
    }

    [Test]
    public void ErrorsHaveTheirExitCodes()
    {
        var (code, _, err) = Tipo(Hub.Endpoint, "download", "test/tipo-tiny", "--file", "nope.gguf");
        Assert.That(code, Is.EqualTo(9));
        Assert.That(err, Does.Contain("file nope.gguf not found in test/tipo-tiny at revision main"));
        (code, _, err) = Tipo(Hub.Endpoint, "download", "not a model");
        Assert.That(code, Is.EqualTo(2), err);
    }
}
