using Tipo.Errors;
using Tipo.Models;

namespace Tipo.Tests.Models;

/// <summary>Loads the real model files under ../shared/models.</summary>
public class SharedModelTests
{
    private static string TinyDir => TestData.Shared("models/tipo-tiny");
    private static string TinyF16 => TestData.Shared("models/tipo-tiny-f16.gguf");
    private static string TinyQ8 => TestData.Shared("models/tipo-tiny-q8_0.gguf");
    private static string Stories => TestData.Shared("models/stories260K.gguf");

    private static void AssertTinyConfig(LlamaConfig c)
    {
        Assert.Multiple(() =>
        {
            Assert.That(c.HiddenSize, Is.EqualTo(128));
            Assert.That(c.IntermediateSize, Is.EqualTo(384));
            Assert.That(c.LayerCount, Is.EqualTo(2));
            Assert.That(c.HeadCount, Is.EqualTo(2));
            Assert.That(c.KvHeadCount, Is.EqualTo(2));
            Assert.That(c.HeadDim, Is.EqualTo(64));
            Assert.That(c.VocabSize, Is.EqualTo(32013));
            Assert.That(c.MaxPositionEmbeddings, Is.EqualTo(2048));
            Assert.That(c.RopeTheta, Is.EqualTo(10000f));
            Assert.That(c.RmsNormEps, Is.EqualTo(1e-5f).Within(1e-9f));
            Assert.That(c.TieWordEmbeddings, Is.False);
            Assert.That(c.BosTokenId, Is.EqualTo(1));
            Assert.That(c.EosTokenId, Is.EqualTo(2));
            Assert.That(c.RopeDimensionCount, Is.EqualTo(64));
        });
    }

    [Test]
    public void TinyHuggingFaceDirectory()
    {
        using var m = LlamaModelFile.Open(TinyDir);
        AssertTinyConfig(m.Config);
        Assert.Multiple(() =>
        {
            Assert.That(m.Format, Is.EqualTo(ModelFormat.SafetensorsDir));
            Assert.That(m.RopeLayout, Is.EqualTo(RopeLayout.RotateHalf));
            Assert.That(m.Gguf, Is.Null);
            Assert.That(m.HuggingFaceDirectory, Is.EqualTo(Path.GetFullPath(TinyDir)));
            Assert.That(m.Tensors, Has.Count.EqualTo(3 + 2 * 9));
            Assert.That(m.Tensors.All(t => t.Type == GgmlType.F32));
            Assert.That(m.Get("blk.1.attn_q.weight").SourceName, Is.EqualTo("model.layers.1.self_attn.q_proj.weight"));
            Assert.That(m.Get("blk.0.ffn_down.weight").Shape, Is.EqualTo(new long[] { 128, 384 }));
            Assert.That(m.Get("token_embd.weight").Shape, Is.EqualTo(new long[] { 32013, 128 }));
            Assert.That(m.Has("output.weight"));
            Assert.That(m.ParameterCount, Is.EqualTo(m.Tensors.Sum(t => t.ElementCount)));
            Assert.That(m.TotalBytes, Is.EqualTo(m.ParameterCount * 4));
        });
    }

    [TestCase("config.json")]
    [TestCase("model.safetensors")]
    public void TinyOpensFromAFileInTheDirectory(string file)
    {
        using var m = LlamaModelFile.Open(Path.Combine(TinyDir, file));
        Assert.That(m.Format, Is.EqualTo(ModelFormat.SafetensorsDir));
        AssertTinyConfig(m.Config);
    }

    [Test]
    public void TinyF16Gguf()
    {
        using var m = LlamaModelFile.Open(TinyF16);
        AssertTinyConfig(m.Config);
        Assert.Multiple(() =>
        {
            Assert.That(m.Format, Is.EqualTo(ModelFormat.Gguf));
            Assert.That(m.RopeLayout, Is.EqualTo(RopeLayout.Interleaved));
            Assert.That(m.Gguf, Is.Not.Null);
            Assert.That(m.Gguf!.Version, Is.EqualTo(3));
            Assert.That(m.Gguf.GetStringArray("tokenizer.ggml.tokens"), Has.Length.EqualTo(32013));
            Assert.That(m.Gguf.GetArray<float>("tokenizer.ggml.scores"), Has.Length.EqualTo(32013));
            Assert.That(m.Gguf.GetArray<int>("tokenizer.ggml.token_type"), Has.Length.EqualTo(32013));
            Assert.That(m.Gguf.GetBool("tokenizer.ggml.add_bos_token"), Is.True);
            Assert.That(m.Gguf.GetString("tokenizer.ggml.model"), Is.EqualTo("llama"));
            Assert.That(m.Tensors, Has.Count.EqualTo(21));
            Assert.That(m.Get("blk.0.attn_q.weight").Type, Is.EqualTo(GgmlType.F16));
            Assert.That(m.Get("blk.0.attn_norm.weight").Type, Is.EqualTo(GgmlType.F32));
            Assert.That(m.Get("token_embd.weight").Shape, Is.EqualTo(new long[] { 32013, 128 }));
            Assert.That(m.Get("blk.0.ffn_gate.weight").Shape, Is.EqualTo(new long[] { 384, 128 }));
        });
    }

    [Test]
    public void Stories260K()
    {
        using var m = LlamaModelFile.Open(Stories);
        var c = m.Config;
        Assert.Multiple(() =>
        {
            Assert.That(c.HiddenSize, Is.EqualTo(64));
            Assert.That(c.IntermediateSize, Is.EqualTo(172));
            Assert.That(c.LayerCount, Is.EqualTo(5));
            Assert.That(c.HeadCount, Is.EqualTo(8));
            Assert.That(c.KvHeadCount, Is.EqualTo(4));
            Assert.That(c.HeadDim, Is.EqualTo(8));
            Assert.That(c.VocabSize, Is.EqualTo(512));
            Assert.That(c.RopeTheta, Is.EqualTo(10000f));
            Assert.That(c.TieWordEmbeddings, Is.False);
            Assert.That(m.Tensors, Has.Count.EqualTo(48));
            Assert.That(m.Tensors.All(t => t.Type == GgmlType.F32));
            Assert.That(m.Get("blk.4.attn_k.weight").Shape, Is.EqualTo(new long[] { 32, 64 }));
            Assert.That(m.RopeLayout, Is.EqualTo(RopeLayout.Interleaved));
        });
    }

    [TestCase("models/tipo-small-q4_k_m.gguf", GgmlType.Q4_K)]
    [TestCase("models/tipo-small-q6_k.gguf", GgmlType.Q6_K)]
    public void KQuantFilesReadAndDequantise(string file, GgmlType expected)
    {
        using var m = LlamaModelFile.Open(TestData.Shared(file));
        Assert.Multiple(() =>
        {
            Assert.That(m.Config.HiddenSize, Is.EqualTo(256));
            Assert.That(m.Config.IntermediateSize, Is.EqualTo(768));
            Assert.That(m.Config.HeadCount, Is.EqualTo(4));
            Assert.That(m.Config.VocabSize, Is.EqualTo(32013));
            Assert.That(m.Tensors.Select(t => t.Type), Does.Contain(expected));
        });
        var q = m.Tensors.First(t => t.Type == expected);
        Assert.That(q.ToFloat32(), Has.Length.EqualTo(q.ElementCount)); // issue 7: k-quants dequantise now
        Assert.That(m.Get("output_norm.weight").ToFloat32(), Has.Length.EqualTo(256));
    }

    /// <summary>llama.cpp's converter permutes Q/K rows: reshape(n_head, 2, head_dim/2, in).swapaxes(1, 2).</summary>
    private static float[] PermuteLikeLlamaCpp(float[] w, int nHead, int rows, int cols)
    {
        int headDim = rows / nHead, half = headDim / 2;
        var result = new float[w.Length];
        int dst = 0;
        for (int h = 0; h < nHead; h++)
            for (int j = 0; j < half; j++)
                for (int two = 0; two < 2; two++)
                {
                    int srcRow = h * headDim + two * half + j;
                    Array.Copy(w, srcRow * cols, result, dst * cols, cols);
                    dst++;
                }
        return result;
    }

    [Test]
    public void HuggingFaceF32AgreesWithGgufF16AndQ8()
    {
        using var hf = LlamaModelFile.Open(TinyDir);
        using var f16 = LlamaModelFile.Open(TinyF16);
        using var q8 = LlamaModelFile.Open(TinyQ8);
        Assert.That(q8.Tensors.Select(t => t.Type), Does.Contain(GgmlType.Q8_0));
        foreach (var t in hf.Tensors)
        {
            var reference = t.ToFloat32();
            if (t.Name.EndsWith("attn_q.weight", StringComparison.Ordinal))
                reference = PermuteLikeLlamaCpp(reference, hf.Config.HeadCount, (int)t.Shape[0], (int)t.Shape[1]);
            if (t.Name.EndsWith("attn_k.weight", StringComparison.Ordinal))
                reference = PermuteLikeLlamaCpp(reference, hf.Config.KvHeadCount, (int)t.Shape[0], (int)t.Shape[1]);
            float maxAbs = reference.Max(MathF.Abs);

            var a = f16.Get(t.Name);
            Assert.That(a.Shape, Is.EqualTo(t.Shape), t.Name);
            var av = a.ToFloat32();
            for (int i = 0; i < av.Length; i++)
            {
                if (MathF.Abs(av[i] - reference[i]) > 1e-3f * MathF.Max(1, MathF.Abs(reference[i])))
                    Assert.Fail($"{t.Name}[{i}]: F16 {av[i]} vs F32 {reference[i]}");
            }

            var b = q8.Get(t.Name);
            var bv = b.ToFloat32();
            float tol = b.Type == GgmlType.Q8_0 ? maxAbs / 127f + 1e-6f : 1e-3f * MathF.Max(1, maxAbs);
            for (int i = 0; i < bv.Length; i++)
            {
                if (MathF.Abs(bv[i] - reference[i]) > tol)
                    Assert.Fail($"{t.Name}[{i}]: {b.Type} {bv[i]} vs F32 {reference[i]} (tolerance {tol})");
            }
        }
    }
}
