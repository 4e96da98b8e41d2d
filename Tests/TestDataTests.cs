namespace Tipo.Tests;

public class TestDataTests
{
    [Test]
    public void RepoRootHoldsTheSolution() =>
        Assert.That(File.Exists(Path.Combine(TestData.RepoRoot, "Tipo.sln")), Is.True);
}
