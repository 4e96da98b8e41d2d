using Tipo.Errors;
using Tipo.Models;

namespace Tipo.Tests.Models;

public class LlamaModelFileTests : TempDirTest
{
    private string Gguf(string name = "m.gguf", bool tied = false, Func<string, long[], long[]?>? edit = null,
        Action<GgufWriter>? metadata = null, string architecture = "llama", GgmlType matrixType = GgmlType.F32)
    {
        string p = Path.Combine(Dir, name);
        SyntheticLlama.WriteGguf(p, tied, edit, metadata, architecture, matrixType);
        return p;
    }

    [Test]
    public void SyntheticGgufAndHuggingFaceAgree()
    {
        using var g = LlamaModelFile.Open(Gguf());
        using var h = LlamaModelFile.Open(SyntheticLlama.WriteHfDir(Dir));
        Assert.Multiple(() =>
        {
            Assert.That(g.Config with { Name = null }, Is.EqualTo(SyntheticLlama.Config()));
            Assert.That(h.Config, Is.EqualTo(SyntheticLlama.Config()));
            Assert.That(g.RopeLayout, Is.EqualTo(RopeLayout.Interleaved));
            Assert.That(h.RopeLayout, Is.EqualTo(RopeLayout.RotateHalf));
            Assert.That(g.Tensors.Select(t => t.Name), Is.EqualTo(h.Tensors.Select(t => t.Name)));
            Assert.That(g.Tensors[0].Name, Is.EqualTo("token_embd.weight"));
            Assert.That(g.Tensors[1].Name, Is.EqualTo("blk.0.attn_norm.weight"));
            Assert.That(g.Tensors[^1].Name, Is.EqualTo("output.weight"));
            Assert.That(g.ParameterCount, Is.EqualTo(h.ParameterCount));
            Assert.That(g.TotalBytes, Is.EqualTo(g.ParameterCount * 4));
            Assert.That(g.Get("blk.1.attn_k.weight").Shape, Is.EqualTo(new long[] { 4, 8 }));
        });
        foreach (var t in g.Tensors)
            Assert.That(t.ToFloat32(), Is.EqualTo(h.Get(t.Name).ToFloat32()), t.Name);
    }

    [Test]
    public void F16MatricesDequantise()
    {
        using var f32 = LlamaModelFile.Open(Gguf("a.gguf"));
        using var f16 = LlamaModelFile.Open(Gguf("b.gguf", matrixType: GgmlType.F16));
        var a = f32.Get("blk.0.ffn_up.weight").ToFloat32();
        var t = f16.Get("blk.0.ffn_up.weight");
        Assert.That(t.Type, Is.EqualTo(GgmlType.F16));
        Assert.That(t.ByteSize, Is.EqualTo(a.Length * 2));
        var b = t.ToFloat32();
        for (int i = 0; i < a.Length; i++)
            Assert.That(b[i], Is.EqualTo(a[i]).Within(1e-3f));
    }

    [Test]
    public void TiedGguf()
    {
        using var m = LlamaModelFile.Open(Gguf(tied: true));
        Assert.That(m.Config.TieWordEmbeddings, Is.True);
        Assert.That(m.Has("output.weight"), Is.False);
        Assert.That(m.OutputWeight.Name, Is.EqualTo("token_embd.weight"));
        ExpectFormatError(m.Path, () => m.Get("output.weight"), "output.weight", "tied");
    }

    [Test]
    public void TiedHuggingFaceIgnoresLmHead()
    {
        string dir = SyntheticLlama.WriteHfDir(Dir, tied: true);
        using var m = LlamaModelFile.Open(dir);
        Assert.That(m.Config.TieWordEmbeddings, Is.True);
        Assert.That(m.Has("output.weight"), Is.False);
    }

    [Test]
    public void UnknownTensorsAreIgnored()
    {
        string p = Path.Combine(Dir, "extra.gguf");
        SyntheticLlama.WriteGguf(p, edit: (n, s) => s);
        using (var m = LlamaModelFile.Open(p))
            Assert.That(m.IgnoredTensorNames, Is.Empty);

        var w = new GgufWriter().Add("general.architecture", "llama").Add("llama.embedding_length", 8u).Add("llama.feed_forward_length", 16u)
            .Add("llama.block_count", 1u).Add("llama.attention.head_count", 2u);
        foreach (var (name, shape) in LlamaModelFile.ExpectedShapes(SyntheticLlama.Config() with { LayerCount = 1, KvHeadCount = 2 }))
            w.AddTensorF32(name, shape, new float[shape.Aggregate(1L, (a, b) => a * b)]);
        w.AddTensorF32("blk.7.attn_q.weight", [8, 8], new float[64]);
        w.AddTensorF32("something.else", [2], [1, 2]);
        w.Write(p);
        using var m2 = LlamaModelFile.Open(p);
        Assert.That(m2.IgnoredTensorNames, Is.EquivalentTo(new[] { "blk.7.attn_q.weight", "something.else" }));
    }

    [Test]
    public void MissingTensorGguf()
    {
        string p = Gguf(edit: (n, s) => n == "blk.1.ffn_up.weight" ? null : s);
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "missing", "blk.1.ffn_up.weight");
    }

    [Test]
    public void MissingTensorHuggingFace()
    {
        string dir = SyntheticLlama.WriteHfDir(Dir, edit: (n, s) => n == "output_norm.weight" ? null : s);
        ExpectFormatError(dir, () => LlamaModelFile.Open(dir).Dispose(), "missing", "output_norm.weight");
    }

    [Test]
    public void UntiedWithoutLmHead()
    {
        string dir = SyntheticLlama.WriteHfDir(Dir, edit: (n, s) => n == "output.weight" ? null : s);
        ExpectFormatError(dir, () => LlamaModelFile.Open(dir).Dispose(), "output.weight");
    }

    [Test]
    public void ShapeMismatchGguf()
    {
        string p = Gguf(edit: (n, s) => n == "blk.0.attn_q.weight" ? [8, 4] : s);
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "blk.0.attn_q.weight", "[8, 4]", "expected [8, 8]");
    }

    [Test]
    public void ShapeMismatchHuggingFaceGqa()
    {
        // attn_k as if there were no GQA: [heads*headDim, hidden] instead of [kvHeads*headDim, hidden].
        string dir = SyntheticLlama.WriteHfDir(Dir, edit: (n, s) => n == "blk.1.attn_k.weight" ? [8, 8] : s);
        ExpectFormatError("model.safetensors", () => LlamaModelFile.Open(dir).Dispose(),
            "blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight", "[8, 8]", "expected [4, 8]");
    }

    [Test]
    public void ShapeMismatchEmbedding()
    {
        string p = Gguf(edit: (n, s) => n == "output.weight" ? [31, 8] : s);
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "output.weight", "[31, 8]", "expected [32, 8]");
    }

    [Test]
    public void NormWithWrongShape()
    {
        string p = Gguf(edit: (n, s) => n == "blk.0.ffn_norm.weight" ? [1, 8] : s);
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "blk.0.ffn_norm.weight", "expected [8]");
    }

    [Test]
    public void UnsupportedArchitectureGguf()
    {
        string p = Gguf(architecture: "gpt2");
        ExpectUnsupported(p, () => LlamaModelFile.Open(p).Dispose(), "gpt2");
    }

    [Test]
    public void MissingArchitectureGguf()
    {
        string p = Path.Combine(Dir, "noarch.gguf");
        new GgufWriter().Add("general.name", "x").Write(p);
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "general.architecture");
    }

    [Test]
    public void MissingRequiredMetadataGguf()
    {
        string p = Path.Combine(Dir, "nometa.gguf");
        new GgufWriter().Add("general.architecture", "llama").Add("llama.embedding_length", 8u).Write(p);
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "llama.attention.head_count");
    }

    [Test]
    public void RopeScalingGguf()
    {
        string p = Gguf(metadata: w => w.Add("llama.rope.scaling.type", "yarn"));
        ExpectUnsupported(p, () => LlamaModelFile.Open(p).Dispose(), "yarn");
    }

    [Test]
    public void PartialRotaryGguf()
    {
        string p = Gguf(metadata: w => w.Set("llama.rope.dimension_count", GgufValue.Of(2u)));
        ExpectUnsupported(p, () => LlamaModelFile.Open(p).Dispose(), "partial rotary", "rope dimension 2");
    }

    [Test]
    public void GgufMetadataValuesAreUsed()
    {
        string p = Gguf(metadata: w => w.Add("llama.rope.freq_base", 500000f).Add("tokenizer.ggml.bos_token_id", 5u).Add("tokenizer.ggml.eos_token_id", 6u));
        using var m = LlamaModelFile.Open(p);
        Assert.That(m.Config.RopeTheta, Is.EqualTo(500000f));
        Assert.That(m.Config.BosTokenId, Is.EqualTo(5));
        Assert.That(m.Config.EosTokenId, Is.EqualTo(6));
        Assert.That(m.Config.Name, Is.EqualTo("synthetic"));
    }

    [Test]
    public void UnsupportedQuantTensorReadsButDoesNotDequantise()
    {
        var w = new GgufWriter().Add("general.architecture", "llama").Add("llama.embedding_length", 256u).Add("llama.feed_forward_length", 256u)
            .Add("llama.block_count", 1u).Add("llama.attention.head_count", 4u);
        var config = new LlamaConfig(256, 256, 1, 4, 4, 64, 4, 1e-5f, 10000, true, 16, 1, 2, 64);
        foreach (var (name, shape) in LlamaModelFile.ExpectedShapes(config))
        {
            if (shape.Length == 2)
                w.AddTensor(name, GgmlType.IQ4_XS, shape, new byte[shape[0] * 136]); // issue 7: k-quants are supported now
            else
                w.AddTensorF32(name, shape, new float[shape[0]]);
        }
        string p = Path.Combine(Dir, "q4k.gguf");
        w.Write(p);
        using var m = LlamaModelFile.Open(p);
        var q = m.Get("blk.0.attn_q.weight");
        Assert.That(q.Type, Is.EqualTo(GgmlType.IQ4_XS));
        Assert.That(q.ByteSize, Is.EqualTo(256 * 136));
        Assert.That(q.Bytes.Length, Is.EqualTo(256 * 136));
        Assert.That(q.IsSupportedForCompute, Is.False);
        var e = Assert.Throws<UnsupportedFeatureException>(() => q.ToFloat32());
        Assert.That(e!.Message, Does.Contain("blk.0.attn_q.weight").And.Contain("IQ4_XS").And.Contain("not supported yet"));
    }

    [Test]
    public void DisposedModelRefusesData()
    {
        var m = LlamaModelFile.Open(Gguf());
        var t = m.Get("output_norm.weight");
        m.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = t.Bytes.Length);
        Assert.Throws<ObjectDisposedException>(() => m.Get("output_norm.weight"));
    }

    [Test]
    public void PathDoesNotExist()
    {
        string p = Path.Combine(Dir, "absent.gguf");
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "no such file");
    }

    [Test]
    public void NotAModelFile()
    {
        string p = WriteFile("weights.bin", [1, 2, 3, 4, 5]);
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "not a model");
    }

    [Test]
    public void GgufExtensionWithBadMagic()
    {
        string p = WriteFile("fake.gguf", System.Text.Encoding.ASCII.GetBytes("not a gguf file at all"));
        ExpectFormatError(p, () => LlamaModelFile.Open(p).Dispose(), "magic");
    }

    [Test]
    public void DirectoryWithoutConfig()
    {
        string dir = Path.Combine(Dir, "empty");
        Directory.CreateDirectory(dir);
        ExpectFormatError(dir, () => LlamaModelFile.Open(dir).Dispose(), "config.json");
    }

    [Test]
    public void DirectoryWithoutWeights()
    {
        string dir = SyntheticLlama.WriteHfDir(Dir);
        File.Delete(Path.Combine(dir, "model.safetensors"));
        ExpectFormatError(dir, () => LlamaModelFile.Open(dir).Dispose(), "model.safetensors");
    }

    [Test]
    public void HuggingFaceDirectoryWithUnsupportedArchitecture()
    {
        string dir = SyntheticLlama.WriteHfDir(Dir, configJson: SyntheticLlama.ConfigJson().Replace("LlamaForCausalLM", "GPT2LMHeadModel", StringComparison.Ordinal));
        ExpectUnsupported("config.json", () => LlamaModelFile.Open(dir).Dispose(), "GPT2LMHeadModel");
    }

    [Test]
    public void HfNamesMapToCanonical()
    {
        Assert.Multiple(() =>
        {
            Assert.That(LlamaModelFile.CanonicalFromHf("model.embed_tokens.weight"), Is.EqualTo("token_embd.weight"));
            Assert.That(LlamaModelFile.CanonicalFromHf("model.norm.weight"), Is.EqualTo("output_norm.weight"));
            Assert.That(LlamaModelFile.CanonicalFromHf("lm_head.weight"), Is.EqualTo("output.weight"));
            Assert.That(LlamaModelFile.CanonicalFromHf("model.layers.12.input_layernorm.weight"), Is.EqualTo("blk.12.attn_norm.weight"));
            Assert.That(LlamaModelFile.CanonicalFromHf("model.layers.0.self_attn.o_proj.weight"), Is.EqualTo("blk.0.attn_output.weight"));
            Assert.That(LlamaModelFile.CanonicalFromHf("model.layers.3.post_attention_layernorm.weight"), Is.EqualTo("blk.3.ffn_norm.weight"));
            Assert.That(LlamaModelFile.CanonicalFromHf("model.layers.3.mlp.down_proj.weight"), Is.EqualTo("blk.3.ffn_down.weight"));
            Assert.That(LlamaModelFile.CanonicalFromHf("model.layers.0.self_attn.rotary_emb.inv_freq"), Is.Null);
        });
    }
}
