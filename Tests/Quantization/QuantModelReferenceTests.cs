using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Models;
using Tipo.Tests.Inference;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Quantization;

/// <summary>
/// The k-quant tipo-small models against llama.cpp's teacher-forced logits (CPU, f32 KV cache), in prefill and
/// one-token-per-pass decode, with both kernel families: the GPU family reads the weights quantised (matmul_q4_k,
/// matmul_q6_k), the CPU family's rows-per-lane kernels read them as F16, dequantised at upload.
/// </summary>
public class QuantModelReferenceTests : GpuTest
{
    private static readonly InferenceOptions F32Kv = new() { KvCacheType = KvCacheType.F32, ContextLength = 512 };

    [TestCase("tipo-small-q4_k_m", KernelSet.Gpu)]
    [TestCase("tipo-small-q6_k", KernelSet.Gpu)]
    [TestCase("tipo-small-q4_k_m", KernelSet.Cpu)]
    [TestCase("tipo-small-q6_k", KernelSet.Cpu)]
    public void TeacherForcedLogitsMatchLlamaCpp(string name, KernelSet kernels)
    {
        var reference = Reference.Load(name + "-greedy");
        using var llm = LlamaModel.Load(Device, TestData.Shared($"models/{name}.gguf"), F32Kv with { Kernels = kernels });
        var matrices = llm.Weights.Layers.SelectMany(l => l.Matrices).Append(llm.Weights.Output).ToList();
        if (kernels == KernelSet.Cpu)
        {
            Assert.That(matrices.Select(m => m.Type).Distinct(), Is.EqualTo(new[] { GgmlType.F16 }), "CPU family: every matrix widened to F16");
            Assert.That(llm.Weights.Layers.Select(l => l.Qkv.Count), Is.All.EqualTo(1), "Q, K and V one matrix (tipo-small-q4_k_m: layer 1's V is Q6_K under Q4_K)");
        }
        else
        {
            Assert.That(matrices.Select(m => m.Type), Has.Some.EqualTo(GgmlType.Q6_K), "GPU family: the k-quants kept");
        }
        foreach (bool decode in new[] { false, true })
        {
            float[] logits = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: decode);
            var (worst, row, top1) = Compare.Rows(logits, reference.Logits, reference.LogitsRows, reference.Vocab);
            string mode = decode ? "decode" : "prefill";
            TestContext.Out.WriteLine($"{name} ({kernels} kernels) {mode}: {reference.LogitsRows} rows, worst row NMSE {worst:E2} (row {row}), top-1 agreement {top1:P1}");
            Assert.That(worst, Is.LessThanOrEqualTo(5e-3), $"{name} {mode}: worst row NMSE (row {row})");
            Assert.That(top1, Is.GreaterThanOrEqualTo(0.95), $"{name} {mode}: top-1 agreement");
        }
    }

    /// <summary>
    /// The CPU family widens quantised matrices to F16 only where that fits three quarters of the device-local heap:
    /// tipo-small's 17.9M matrix parameters are ~36 MB as F16 (its token embedding stays on the host).
    /// </summary>
    [Test]
    public void QuantsAsF16OnlyWhereTheF16MatricesFitTheHeap()
    {
        using var file = LlamaModelFile.Open(TestData.Shared("models/tipo-small-q4_k_m.gguf"));
        long f16Bytes = file.Tensors.Where(t => t.Shape.Length == 2 && t.Name != "token_embd.weight").Sum(t => 2 * t.Shape[0] * t.Shape[1]);
        Assert.That(LlamaModel.QuantsAsF16Fits(file, (ulong)(f16Bytes * 4 / 3 + 4)), Is.True);
        Assert.That(LlamaModel.QuantsAsF16Fits(file, (ulong)(f16Bytes * 4 / 3 - 4096)), Is.False);
        Assert.That(LlamaModel.QuantsAsF16Fits(file, 2UL << 30), Is.True, "lavapipe's 2 GiB heap");
    }
}
