using Tipo.Models;

namespace Tipo.Tests.Models;

public class LlamaConfigTests : TempDirTest
{
    private string WriteConfig(string json) => WriteFile("config.json", System.Text.Encoding.UTF8.GetBytes(json));

    private string WithExtra(string extra) => WriteConfig(SyntheticLlama.ConfigJson(extra: extra));

    [Test]
    public void ReadsConfigJson()
    {
        var c = LlamaConfig.FromConfigJson(WriteConfig(SyntheticLlama.ConfigJson()));
        Assert.That(c, Is.EqualTo(SyntheticLlama.Config()));
        Assert.That(c.GqaGroupSize, Is.EqualTo(2));
        Assert.That(c.QDim, Is.EqualTo(8));
        Assert.That(c.KvDim, Is.EqualTo(4));
    }

    [Test]
    public void ExplicitHeadDimAndDefaults()
    {
        string json = """{"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "head_dim": 6, "vocab_size": 10}""";
        var c = LlamaConfig.FromConfigJson(WriteConfig(json));
        Assert.Multiple(() =>
        {
            Assert.That(c.HeadDim, Is.EqualTo(6));
            Assert.That(c.KvHeadCount, Is.EqualTo(2));
            Assert.That(c.RopeTheta, Is.EqualTo(10000f));
            Assert.That(c.RmsNormEps, Is.EqualTo(1e-6f));
            Assert.That(c.MaxPositionEmbeddings, Is.EqualTo(2048));
            Assert.That(c.TieWordEmbeddings, Is.False);
            Assert.That(c.BosTokenId, Is.EqualTo(1));
            Assert.That(c.EosTokenId, Is.EqualTo(2));
        });
    }

    [Test]
    public void EosTokenIdList()
    {
        string p = WriteConfig(SyntheticLlama.ConfigJson().Replace("\"eos_token_id\": 2", "\"eos_token_id\": [7, 9]", StringComparison.Ordinal));
        Assert.That(LlamaConfig.FromConfigJson(p).EosTokenId, Is.EqualTo(7));
    }

    [Test]
    public void OtherArchitecture()
    {
        string p = WriteConfig(SyntheticLlama.ConfigJson().Replace("LlamaForCausalLM", "MistralForCausalLM", StringComparison.Ordinal));
        ExpectUnsupported(p, () => LlamaConfig.FromConfigJson(p), "MistralForCausalLM");
    }

    [Test]
    public void MissingArchitectures()
    {
        string p = WriteConfig("""{"hidden_size": 8}""");
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "architectures");
    }

    [TestCase("""{"type": "linear", "factor": 2.0}""", "linear")]
    [TestCase("""{"rope_type": "llama3", "factor": 8.0}""", "llama3")]
    [TestCase("""{"type": "dynamic", "factor": 2.0}""", "dynamic")]
    public void RopeScalingIsUnsupported(string scaling, string kind)
    {
        string p = WriteConfig(SyntheticLlama.ConfigJson().Replace("\"rope_scaling\": null", $"\"rope_scaling\": {scaling}", StringComparison.Ordinal));
        ExpectUnsupported(p, () => LlamaConfig.FromConfigJson(p), "rope_scaling", kind);
    }

    [Test]
    public void AttentionBiasIsUnsupported()
    {
        string p = WithExtra(", \"attention_bias\": true");
        ExpectUnsupported(p, () => LlamaConfig.FromConfigJson(p), "attention_bias");
    }

    [Test]
    public void OtherActivationIsUnsupported()
    {
        string p = WithExtra(", \"hidden_act\": \"gelu\"");
        ExpectUnsupported(p, () => LlamaConfig.FromConfigJson(p), "gelu");
    }

    [Test]
    public void InvalidJson()
    {
        string p = WriteConfig("{\"architectures\": [\"LlamaForCausalLM\"], ");
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "not valid JSON");
    }

    [Test]
    public void NotAnObject()
    {
        string p = WriteConfig("[]");
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "JSON object");
    }

    [Test]
    public void MissingField()
    {
        string p = WriteConfig(SyntheticLlama.ConfigJson().Replace("\"hidden_size\": 8,", "", StringComparison.Ordinal));
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "hidden_size");
    }

    [Test]
    public void WrongFieldType()
    {
        string p = WriteConfig(SyntheticLlama.ConfigJson().Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": \"two\"", StringComparison.Ordinal));
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "num_hidden_layers", "integer");
    }

    [Test]
    public void HeadsNotMultipleOfKvHeads()
    {
        string p = WriteConfig(SyntheticLlama.ConfigJson().Replace("\"num_key_value_heads\": 1", "\"num_key_value_heads\": 3", StringComparison.Ordinal));
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "multiple");
    }

    [Test]
    public void NonPositiveValue()
    {
        string p = WriteConfig(SyntheticLlama.ConfigJson().Replace("\"vocab_size\": 32", "\"vocab_size\": 0", StringComparison.Ordinal));
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "vocab size");
    }

    [Test]
    public void MissingConfigFile()
    {
        string p = Path.Combine(Dir, "config.json");
        ExpectFormatError(p, () => LlamaConfig.FromConfigJson(p), "not found");
    }
}
