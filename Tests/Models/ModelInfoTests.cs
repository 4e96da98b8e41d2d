using Tipo.Models;

namespace Tipo.Tests.Models;

public class ModelInfoTests : TempDirTest
{
    [Test]
    public void DescribesAModel()
    {
        string p = Path.Combine(Dir, "m.gguf");
        SyntheticLlama.WriteGguf(p, matrixType: GgmlType.F16);
        using var m = LlamaModelFile.Open(p);
        var o = new StringWriter();
        ModelInfo.Write(o, m, listTensors: true);
        string text = o.ToString();
        Assert.That(text, Does.Contain("hidden size:            8"));
        Assert.That(text, Does.Contain("kv heads:               1"));
        Assert.That(text, Does.Contain("interleaved"));
        Assert.That(text, Does.Contain("F16"));
        Assert.That(text, Does.Contain("blk.1.attn_k.weight"));
        Assert.That(text, Does.Contain("[4, 8]"));
        Assert.That(text, Does.Contain($"parameters:             {m.ParameterCount:N0}"));
    }
}
