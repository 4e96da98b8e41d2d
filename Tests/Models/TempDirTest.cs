using Tipo.Errors;

namespace Tipo.Tests.Models;

/// <summary>Base of tests that write files: a fresh temporary directory per test.</summary>
public abstract class TempDirTest
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void CreateDir()
    {
        Dir = Path.Combine(Path.GetTempPath(), "tipo-models-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
    }

    [TearDown]
    public void DeleteDir()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    protected string WriteFile(string name, byte[] bytes)
    {
        string p = Path.Combine(Dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    /// <summary>Asserts <paramref name="open"/> throws a ModelFormatException naming <paramref name="path"/> and containing every fragment.</summary>
    protected static ModelFormatException ExpectFormatError(string path, Action open, params string[] fragments)
    {
        var e = Assert.Throws<ModelFormatException>(() => open())!;
        Assert.That(e.Message, Does.Contain(Path.GetFileName(path)), "the error names the file");
        foreach (var f in fragments)
            Assert.That(e.Message, Does.Contain(f).IgnoreCase);
        return e;
    }

    protected static UnsupportedFeatureException ExpectUnsupported(string path, Action open, params string[] fragments)
    {
        var e = Assert.Throws<UnsupportedFeatureException>(() => open())!;
        Assert.That(e.Message, Does.Contain(Path.GetFileName(path)), "the error names the file");
        foreach (var f in fragments)
            Assert.That(e.Message, Does.Contain(f).IgnoreCase);
        return e;
    }
}
