using Tipo.Hub;

namespace Tipo.Tests.Hub;

public class ModelReferenceTests
{
    [Test]
    public void SixAliasesDefaultFirst()
    {
        Assert.That(ModelAliases.All, Has.Count.EqualTo(6));
        Assert.That(ModelAliases.Default.KGenName, Is.EqualTo("KBlueLeaf/TIPO-500M-ft | TIPO-500M-ft-F16.gguf"));
        Assert.That(ModelAliases.Find("tipo-200m")!.GgufFile, Is.EqualTo("TIPO-200M-40Btok-F16.gguf"));
        Assert.That(ModelAliases.Find("TIPO-500M")!.GgufFile, Is.EqualTo("TIPO-500M_epoch5-F16.gguf"));
    }

    [TestCase("TIPO-500M-ft", "KBlueLeaf/TIPO-500M-ft", "TIPO-500M-ft-F16.gguf", "main")]
    [TestCase("tipo-100m", "KBlueLeaf/TIPO-100M", "TIPO-100M-F16.gguf", "main")]
    [TestCase("KBlueLeaf/TIPO-200M-ft2 | TIPO-200M-ft2-F16.gguf", "KBlueLeaf/TIPO-200M-ft2", "TIPO-200M-ft2-F16.gguf", "main")]
    [TestCase("KBlueLeaf/TIPO-200M-ft2:TIPO-200M-ft2-F16.gguf", "KBlueLeaf/TIPO-200M-ft2", "TIPO-200M-ft2-F16.gguf", "main")]
    [TestCase("KBlueLeaf/TIPO-200M", "KBlueLeaf/TIPO-200M", null, "main")]
    [TestCase("KBlueLeaf/TIPO-200M@v1:TIPO-200M-F16.gguf", "KBlueLeaf/TIPO-200M", "TIPO-200M-F16.gguf", "v1")]
    [TestCase("TIPO-200M-ft:other.gguf", "KBlueLeaf/TIPO-200M-ft", "other.gguf", "main")]
    [TestCase("QuantFactory/TIPO-500M-GGUF:TIPO-500M.Q4_K_M.gguf", "QuantFactory/TIPO-500M-GGUF", "TIPO-500M.Q4_K_M.gguf", "main")]
    public void Parses(string text, string repo, string? file, string revision) =>
        Assert.That(ModelResolver.Parse(text), Is.EqualTo(new ModelReference(repo, file, revision)));

    [TestCase("model.gguf")]
    [TestCase("./models/x.gguf")]
    [TestCase("/abs/path/x.gguf")]
    [TestCase("a/b/c")]
    [TestCase("")]
    [TestCase("org/name:")]
    [TestCase("org--x/name")]
    public void NotAReference(string text) => Assert.That(ModelResolver.Parse(text), Is.Null);

    [Test]
    public void CacheFolderNamesAndUrls()
    {
        Assert.That(HuggingFaceCache.RepoFolderName("KBlueLeaf/TIPO-500M-ft"), Is.EqualTo("models--KBlueLeaf--TIPO-500M-ft"));
        using var client = new HubClient(new HubOptions { Endpoint = "https://hf-mirror.example/", CacheDir = Path.GetTempPath() });
        Assert.That(client.ResolveUrl("KBlueLeaf/TIPO-500M-ft", "sub dir/TIPO-500M-ft-F16.gguf", "refs/pr/1").AbsoluteUri,
            Is.EqualTo("https://hf-mirror.example/KBlueLeaf/TIPO-500M-ft/resolve/refs%2Fpr%2F1/sub%20dir/TIPO-500M-ft-F16.gguf"));
        Assert.That(HubClient.NormalizeEtag("W/\"abc\""), Is.EqualTo("abc"));
    }

    [Test]
    public void CacheRootFollowsTheEnvironment()
    {
        string?[] saved = [.. new[] { "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME" }.Select(Environment.GetEnvironmentVariable)];
        try
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", null);
            Environment.SetEnvironmentVariable("HUGGINGFACE_HUB_CACHE", null);
            Environment.SetEnvironmentVariable("HF_HOME", null);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            Assert.That(HuggingFaceCache.DefaultRoot(), Is.EqualTo(Path.Combine(home, ".cache", "huggingface", "hub")));
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/x");
            Assert.That(HuggingFaceCache.DefaultRoot(), Is.EqualTo("/x/huggingface/hub"));
            Environment.SetEnvironmentVariable("HF_HOME", "/h");
            Assert.That(HuggingFaceCache.DefaultRoot(), Is.EqualTo("/h/hub"));
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", "/c");
            Assert.That(HuggingFaceCache.DefaultRoot(), Is.EqualTo("/c"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved[0]);
            Environment.SetEnvironmentVariable("HUGGINGFACE_HUB_CACHE", saved[1]);
            Environment.SetEnvironmentVariable("HF_HOME", saved[2]);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved[3]);
        }
    }
}
