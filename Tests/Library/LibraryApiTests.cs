using System.Text.Json;
using Tipo.Expansion;
using Tipo.Tests.Expansion;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Library;

/// <summary>
/// The public library API used as the README shows it (load once, expand many, dispose). The differences from the README:
/// the model is ../shared/models/tipo-tiny, the device and tag lists are the test run's, and new tokens are capped for lavapipe.
/// </summary>
public class LibraryApiTests
{
    private static string? TestDevice => Environment.GetEnvironmentVariable("TIPO_DEVICE");

    [Test]
    public void LoadOnceExpandManyDispose()
    {
        string modelPath = TestData.Shared("models/tipo-tiny");
        string tagListDirectory = ExpansionTestData.TagListDirectory;

        // --- as in the README ---
        using var tipo = TipoExpander.Load(modelPath, new TipoExpanderOptions { Device = TestDevice, TagListDirectory = tagListDirectory });
        TipoResult result = tipo.Expand(new TipoRequest { Tags = "1girl, scenery", Seed = 42, MaxNewTokens = 4 });
        Console.WriteLine(result.Formatted);
        // ---

        Assert.Multiple(() =>
        {
            Assert.That(result.Formatted, Does.StartWith("1girl"));
            Assert.That(result.Seed, Is.EqualTo(42UL));
            Assert.That(result.Model, Is.EqualTo("tipo-tiny"));
            Assert.That(tipo.ModelName, Is.EqualTo("tipo-tiny"));
            Assert.That(tipo.DeviceName, Is.Not.Empty);
            Assert.That(tipo.TagLists.Directory, Is.EqualTo(Path.GetFullPath(tagListDirectory)));
        });

        // The same model answers further requests; the same seed gives the same text.
        TipoResult again = tipo.Expand(new TipoRequest { Tags = "1girl, scenery", Seed = 42, MaxNewTokens = 4 });
        Assert.That(again.Formatted, Is.EqualTo(result.Formatted));
        using (JsonDocument json = JsonDocument.Parse(TipoJson.Result(again)))
            Assert.That(json.RootElement.GetProperty("seed").GetUInt64(), Is.EqualTo(42UL));

        // Invalid requests are argument errors, before any model call.
        Assert.Throws<ArgumentException>(() => tipo.Expand(new TipoRequest { Tags = "1girl", Format = "no such format" }));
        Assert.Throws<ArgumentException>(() => tipo.Expand(new TipoRequest { Tags = "1girl", Width = 0 }));

        tipo.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tipo.Expand(new TipoRequest { Tags = "1girl" }));
        GpuTest.AssertNoValidationMessages("while using the library API");
    }

    [Test]
    public void AModelThatIsNeitherAPathNorAReferenceIsFileNotFound()
    {
        var e = Assert.Throws<FileNotFoundException>(() => TipoExpander.Load("no/such/dir/model.gguf", new TipoExpanderOptions { AllowDownload = false }));
        Assert.That(e!.Message, Does.Contain("no/such/dir/model.gguf"));
    }
}
