
namespace Tipo.Tests.Text;

/// <summary>Runs the built <c>tipo tokenize</c> (tipo.dll next to the tests) as a process.</summary>
[TestFixture]
public class TokenizeCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (code, stdout, stderr) = TipoCli.Run(args);
        return (code, stdout.Trim(), stderr);
    }

    [Test]
    public void Tokenize_PrintsIdsAsJsonArray()
    {
        string dir = TestData.Shared("models/tipo-tiny");
        string gguf = TestData.Shared("models/tipo-tiny-f16.gguf");
        Assert.That(Run("tokenize", "--model", dir, "aspect_ratio: 1.0\ntarget: <|long|>"),
            Is.EqualTo((0, "[1, 9565, 29918, 3605, 601, 29901, 29871, 29896, 29889, 29900, 13, 5182, 29901, 29871, 32003]", "")));
        var r = Run("tokenize", "-m", gguf, "--no-bos", "--no-special", "<|long|>");
        Assert.That(r.Code, Is.EqualTo(0));
        Assert.That(r.Out, Does.StartWith("[").And.Not.Contain("32003").And.Not.StartWith("[1,"));

        string file = Path.Combine(Path.GetTempPath(), $"tipo-tokenize-{Guid.NewGuid():N}.txt");
        File.WriteAllText(file, "Once upon a time");
        try
        {
            Assert.That(Run("tokenize", "-m", TestData.Shared("models/stories260K.gguf"), "--file", file).Out, Is.EqualTo("[1, 403, 407, 261, 378]"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void Tokenize_MissingModel_ExitsWithModelFileCode()
    {
        var r = Run("tokenize", "--model", "/nonexistent/tipo.gguf", "x");
        Assert.That(r.Code, Is.EqualTo(4));
        Assert.That(r.Err, Does.Contain("/nonexistent/tipo.gguf"));
    }
}
