using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// A prefill that asks only for the last token's logits runs the last layer past its QKV projection for that token
/// alone (as llama.cpp does). Its logits must be the last row of the prefill that computes every row: bit for bit where
/// the decode-shaped kernels that then run the last token are guaranteed to sum in the prefill kernels' order (the F16
/// and F32 rows-per-lane and wide kernels), within rounding elsewhere (split-k, Q8_0); on lavapipe every case is bit
/// for bit. The residual stream shows the path was taken: after the last-only pass only its last row went through the
/// last layer. Prompts are evaluated whole and in chunks of 8 tokens (later chunks at pos0 &gt; 0).
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
        foreach (int batch in new[] { 512, 8 })
        {
            using var llm = LlamaModel.Load(Device, TestData.Shared(model), new InferenceOptions { Kernels = kernels, ContextLength = 64, MaxBatchTokens = batch });
            int vocab = llm.VocabSize, dim = llm.Config.HiddenSize;
            int[] prompt = Enumerable.Range(0, 21).Select(i => 3 + i * 37 % (vocab - 3)).ToArray();   // prefill blocks with a tail
            prompt[0] = llm.Config.BosTokenId;
            int lastChunk = (prompt.Length - 1) / batch * batch;   // the residual stream holds the last chunk's rows

            float[] Residual(int row)
            {
                var r = new float[dim];
                llm.Activations.X.Download<float>(r, (long)(row - lastChunk) * dim * sizeof(float));
                return r;
            }

            var all = new float[prompt.Length * vocab];
            llm.ResetCache();
            llm.Evaluate(prompt, LogitsMode.All, all);
            float[] lastOfAll = all[((prompt.Length - 1) * vocab)..];
            float[] firstRowAll = Residual(lastChunk), lastRowAll = Residual(prompt.Length - 1);

            var last = new float[vocab];
            llm.ResetCache();
            llm.Evaluate(prompt, LogitsMode.Last, last);
            float[] firstRowLast = Residual(lastChunk), lastRowLast = Residual(prompt.Length - 1);

            double nmse = Compare.Nmse(last, lastOfAll);
            TestContext.Out.WriteLine($"{model} ({kernels} kernels, chunks of {batch}): last-only against every row, NMSE {nmse:E2}");
            Assert.Multiple(() =>
            {
                if (bitIdentical)
                    Assert.That(last, Is.EqualTo(lastOfAll), $"chunks of {batch}: the last token's logits, last-only against every row");
                else
                    Assert.That(nmse, Is.LessThanOrEqualTo(1e-9), $"chunks of {batch}: the last token's logits, last-only against every row");
                Assert.That(Compare.Nmse(lastRowLast, lastRowAll), Is.LessThanOrEqualTo(bitIdentical ? 0 : 1e-9), $"chunks of {batch}: the last row of the residual stream");
                Assert.That(firstRowLast, Is.Not.EqualTo(firstRowAll), $"chunks of {batch}: the chunk's first row skipped the last layer");
            });
        }
    }
}
