using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// A prefill that asks only for the last token's logits runs the last layer past its QKV projection for that token
/// alone (as llama.cpp does). Its logits must be the last row of the prefill that computes every row: bit for bit
/// where both paths run the same per-token arithmetic (the float kernels), within rounding where the split-k
/// kernels reduce a prefill block in another order (the GPU family's quantized matmuls).
/// </summary>
public class LastTokenOnlyTests : GpuTest
{
    [TestCase("models/tipo-tiny", KernelSet.Cpu, true)]
    [TestCase("models/tipo-tiny-f16.gguf", KernelSet.Cpu, true)]
    [TestCase("models/tipo-tiny-q8_0.gguf", KernelSet.Cpu, false)]
    [TestCase("models/stories260K.gguf", KernelSet.Cpu, true)]
    [TestCase("models/tipo-tiny", KernelSet.Gpu, false)]
    [TestCase("models/tipo-tiny-f16.gguf", KernelSet.Gpu, true)]
    [TestCase("models/tipo-tiny-q8_0.gguf", KernelSet.Gpu, false)]
    public void LastLogitsAreTheLastRowOfEveryRow(string model, KernelSet kernels, bool bitIdentical)
    {
        using var llm = LlamaModel.Load(Device, TestData.Shared(model), new InferenceOptions { Kernels = kernels, ContextLength = 64 });
        int vocab = llm.VocabSize;
        int[] prompt = Enumerable.Range(0, 21).Select(i => 3 + i * 37 % (vocab - 3)).ToArray();   // prefill blocks with a tail
        prompt[0] = llm.Config.BosTokenId;

        var all = new float[prompt.Length * vocab];
        llm.ResetCache();
        llm.Evaluate(prompt, LogitsMode.All, all);
        float[] lastOfAll = all[((prompt.Length - 1) * vocab)..];

        var last = new float[vocab];
        llm.ResetCache();
        llm.Evaluate(prompt, LogitsMode.Last, last);

        double nmse = Compare.Nmse(last, lastOfAll);
        TestContext.Out.WriteLine($"{model} ({kernels} kernels): last-only against every row, NMSE {nmse:E2}");
        if (bitIdentical)
            Assert.That(last, Is.EqualTo(lastOfAll), "the last token's logits, last-only against every row");
        else
            Assert.That(nmse, Is.LessThanOrEqualTo(1e-9), "the last token's logits, last-only against every row");
    }
}
