namespace Tipo.Tests.Hub;

/// <summary>A fresh fake hub serving the tiny repo, and an empty cache directory, for every test.</summary>
public abstract class FakeHubTest
{
    private protected string CacheDir { get; private set; } = "";
    private protected FakeHub Hub { get; private set; } = null!;
    private protected FakeHub.Repo Repo { get; private set; } = null!;

    [SetUp]
    public void StartHub()
    {
        CacheDir = Path.Combine(Path.GetTempPath(), $"tipo-{GetType().Name}-" + Guid.NewGuid().ToString("N"));
        Hub = FakeHub.WithTinyRepo(out FakeHub.Repo repo);
        Repo = repo;
    }

    [TearDown]
    public void StopHub()
    {
        Hub?.Dispose();   // null when StartHub was ignored for want of ../shared
        if (Directory.Exists(CacheDir))
            Directory.Delete(CacheDir, recursive: true);
    }
}
