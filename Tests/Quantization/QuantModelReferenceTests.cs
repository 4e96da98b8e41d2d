using Tipo.Inference;
using Tipo.Tests.Inference;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Quantization;

/// <summary>
/// The k-quant tipo-small models (weights read quantised by matmul_q4_k / matmul_q6_k) against llama.cpp's
/// teacher-forced logits (CPU, f32 KV cache), in prefill and one-token-per-pass decode.
/// </summary>
public class QuantModelReferenceTests : GpuTest
{
    private static readonly InferenceOptions F32Kv = new() { KvCacheType = KvCacheType.F32, ContextLength = 512 };

    [TestCase("tipo-small-q4_k_m")]
    [TestCase("tipo-small-q6_k")]
    public void TeacherForcedLogitsMatchLlamaCpp(string name)
    {
        var reference = Reference.Load(name + "-greedy");
        using var llm = LlamaModel.Load(Device, TestData.Shared($"models/{name}.gguf"), F32Kv);
        foreach (bool decode in new[] { false, true })
        {
            float[] logits = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: decode);
            var (worst, row, top1) = Compare.Rows(logits, reference.Logits, reference.LogitsRows, reference.Vocab);
            string mode = decode ? "decode" : "prefill";
            TestContext.Out.WriteLine($"{name} {mode}: {reference.LogitsRows} rows, worst row NMSE {worst:E2} (row {row}), top-1 agreement {top1:P1}");
            Assert.That(worst, Is.LessThanOrEqualTo(5e-3), $"{name} {mode}: worst row NMSE (row {row})");
            Assert.That(top1, Is.GreaterThanOrEqualTo(0.95), $"{name} {mode}: top-1 agreement");
        }
    }
}
