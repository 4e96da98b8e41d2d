namespace Tipo.Tests.Library;

/// <summary>What <c>dotnet pack</c> ships: Tipo.Engine.dll carries every compiled shader, so the package needs no other file.</summary>
public class PackageContentsTests
{
    [Test]
    public void TheEngineAssemblyEmbedsEveryShaderAsSpirV()
    {
        var assembly = typeof(TipoExpander).Assembly;
        string[] shaders = Directory.GetFiles(Path.Combine(TestData.RepoRoot, "Shaders"), "*.comp")
            .Select(f => $"Tipo.Shaders.{Path.GetFileNameWithoutExtension(f)}.spv").ToArray();
        Assert.That(shaders, Is.Not.Empty);
        Assert.That(assembly.GetManifestResourceNames(), Is.SupersetOf(shaders));
        foreach (string name in shaders)
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            var magic = new byte[4];
            stream.ReadExactly(magic);
            Assert.That(BitConverter.ToUInt32(magic), Is.EqualTo(0x07230203u), $"{name} is SPIR-V");
        }
    }
}
