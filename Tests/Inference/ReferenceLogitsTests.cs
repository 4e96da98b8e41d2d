using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Inference.Sampling;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// The forward pass against llama.cpp (CPU, f32 KV cache) and llama2.c: teacher-forced logits row by row
/// (NMSE and top-1 agreement) and greedy continuations, in prefill and decode mode.
/// </summary>
public class ReferenceLogitsTests : GpuTest
{
    private static readonly InferenceOptions F32Kv = new() { KvCacheType = KvCacheType.F32, ContextLength = 512 };

    private LlamaModel Load(string sharedModel, KernelSet kernels = KernelSet.Auto) =>
        LlamaModel.Load(Device, TestData.Shared(sharedModel), F32Kv with { Kernels = kernels });

    // Both kernel families run on every device: the GPU family (split-k matmuls, shared-memory attention) is checked
    // here on lavapipe against the same references as the CPU family lavapipe picks by itself.
    [TestCase("models/tipo-tiny", 1e-6, 1.0, KernelSet.Cpu)]
    [TestCase("models/tipo-tiny-f16.gguf", 1e-4, 0.97, KernelSet.Cpu)]
    [TestCase("models/tipo-tiny-q8_0.gguf", 5e-3, 0.97, KernelSet.Cpu)]
    [TestCase("models/tipo-tiny", 1e-6, 1.0, KernelSet.Gpu)]
    [TestCase("models/tipo-tiny-f16.gguf", 1e-4, 0.97, KernelSet.Gpu)]
    [TestCase("models/tipo-tiny-q8_0.gguf", 5e-3, 0.97, KernelSet.Gpu)]
    public void TipoTinyTeacherForcedLogitsMatchLlamaCpp(string model, double maxNmse, double minTop1, KernelSet kernels)
    {
        var reference = Reference.Load("tipo-tiny-greedy");
        using var llm = Load(model, kernels);
        foreach (bool decode in new[] { false, true })
        {
            float[] logits = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: decode);
            var (worst, row, top1) = Compare.Rows(logits, reference.Logits, reference.LogitsRows, reference.Vocab);
            TestContext.Out.WriteLine($"{model} ({kernels} kernels) {(decode ? "decode" : "prefill")}: worst row NMSE {worst:E2} (row {row}), top-1 agreement {top1:P1}");
            Assert.That(worst, Is.LessThanOrEqualTo(maxNmse), $"{model} {(decode ? "decode" : "prefill")}: worst row NMSE (row {row})");
            Assert.That(top1, Is.GreaterThanOrEqualTo(minTop1), $"{model} {(decode ? "decode" : "prefill")}: top-1 agreement");
        }
    }

    [Test]
    public void TipoTinyGreedyFromHuggingFaceDirMatches32Of32()
    {
        var reference = Reference.Load("tipo-tiny-greedy");
        using var llm = Load("models/tipo-tiny");
        var result = new Generator(llm).Generate(reference.Prompt, reference.Greedy.Length, SamplingOptions.Greedy, seed: 0, stopAtEos: false);
        Assert.That(result.Tokens, Is.EqualTo(reference.Greedy));
    }

    [TestCase(KernelSet.Cpu)]
    [TestCase(KernelSet.Gpu)]
    public void StoriesTeacherForcedLogitsMatchLlamaCpp(KernelSet kernels)
    {
        var reference = Reference.Load("stories260K-greedy");
        using var llm = Load("models/stories260K.gguf", kernels);
        float[] prefill = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: false);
        float[] decode = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: true);
        foreach (var (name, logits) in new[] { ("prefill", prefill), ("decode", decode) })
        {
            var (worst, row, top1) = Compare.Rows(logits, reference.Logits, reference.LogitsRows, reference.Vocab);
            TestContext.Out.WriteLine($"stories260K {name}: worst row NMSE {worst:E2} (row {row}), top-1 {top1:P1}");
            Assert.That(worst, Is.LessThanOrEqualTo(1e-6), $"{name}: worst row NMSE (row {row})");
            Assert.That(top1, Is.EqualTo(1.0), $"{name}: top-1 agreement");
        }
        var (agree, _, _) = Compare.Rows(prefill, decode, reference.LogitsRows, reference.Vocab);
        Assert.That(agree, Is.LessThanOrEqualTo(1e-8), "prefill and decode of the same ids agree");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void StoriesGreedyReproducesAll252TokensAndText(bool decodeOnly)
    {
        var reference = Reference.Load("stories260K-greedy");
        using var llm = Load("models/stories260K.gguf");
        IReadOnlyList<int> tokens;
        if (decodeOnly)
        {
            // Feed the prompt one token per pass, then decode: the decode path end to end.
            var generated = new List<int>();
            float[] logits = new float[llm.VocabSize];
            llm.ResetCache();
            foreach (int id in reference.Prompt) llm.Evaluate([id], LogitsMode.Last, logits);
            for (int i = 0; i < reference.Greedy.Length; i++)
            {
                int next = Compare.ArgMax(logits);
                generated.Add(next);
                if (i + 1 < reference.Greedy.Length) llm.Evaluate([next], LogitsMode.Last, logits);
            }
            tokens = generated;
        }
        else
        {
            llm.ResetCache();
            tokens = new Generator(llm).Generate(reference.Prompt, reference.Greedy.Length, SamplingOptions.Greedy, 0, stopAtEos: false).Tokens;
        }
        Assert.That(tokens, Is.EqualTo(reference.Greedy));
        string text = llm.Tokenizer.Decode(reference.Prompt.Concat(tokens), skipSpecial: true);
        Assert.That(text, Is.EqualTo(reference.Text));
    }

    [Test]
    public void HuggingFaceDirAndGgufOfTheSameWeightsAgree()
    {
        var reference = Reference.Load("tipo-tiny-greedy");
        int[] ids = reference.TeacherForcedIds;
        float[] hf, gguf;
        using (var a = Load("models/tipo-tiny")) hf = TeacherForcing.Logits(a, ids, false);
        using (var b = Load("models/tipo-tiny-f16.gguf")) gguf = TeacherForcing.Logits(b, ids, false);
        var (worst, row, top1) = Compare.Rows(gguf, hf, ids.Length, reference.Vocab);
        TestContext.Out.WriteLine($"HF F32 vs GGUF F16: worst NMSE {worst:E2} (row {row}), top-1 {top1:P1}");
        Assert.That(worst, Is.LessThanOrEqualTo(1e-4));
        Assert.That(top1, Is.GreaterThanOrEqualTo(0.97));
    }

    [Test]
    public void PromptPlusTokensBeyondTheContextIsAClearError()
    {
        using var llm = LlamaModel.Load(Device, TestData.Shared("models/stories260K.gguf"), new InferenceOptions { ContextLength = 16 });
        var ex = Assert.Throws<Tipo.Errors.ContextOverflowException>(() =>
            new Generator(llm).Generate([1, 403, 407, 261, 378], 12, SamplingOptions.Greedy, 0));
        Assert.That(ex!.Message, Does.Contain("16"));
    }
}
