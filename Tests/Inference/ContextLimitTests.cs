using Tipo.Errors;
using Tipo.Inference;
using Tipo.Inference.Benchmarks;
using Tipo.Inference.Kernels;
using Tipo.Tests.Vulkan;
using Tipo.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// A model whose heads are not whole 16-byte cache texels (36 halves) runs the portable tiles attention kernel. On
/// llvmpipe that kernel's loops would pass the driver's 65535 iterations per invocation beyond
/// <see cref="AttentionKernel.MaxKeys"/> keys and give wrong results silently, so a longer context is refused at load with
/// an error that names the limit; up to it the model loads and decodes. On a GPU there is no such limit.
/// </summary>
public class ContextLimitTests : GpuTest
{
    [Test]
    public void TilesAttentionOnLlvmpipeRefusesAContextPastItsLoopLimit()
    {
        using var model = new SyntheticGguf(new SyntheticShape("heads-of-36", 72, 192, 2, 2, 2, 300, 64), seed: 3);
        int max = AttentionKernel.TilesMaxKeysOnLlvmpipe(36);
        LlamaModel Load(int context) => LlamaModel.Load(Device, model.Path, new InferenceOptions { ContextLength = context, KvCacheType = KvCacheType.F16 });
        if (Device.Info.Kind != DeviceKind.Cpu)
        {
            using var gpu = Load(max + 64);
            Assert.That(gpu.ContextLength, Is.EqualTo(max + 64), "no loop limit on a GPU");
            return;
        }
        var ex = Assert.Throws<UnsupportedFeatureException>(() => Load(max + 1).Dispose());
        Assert.That(ex!.Message, Does.Contain($"{max + 1} tokens").And.Contain("65535").And.Contain($"at most {max}").And.Contain("heads of 36"));
        using var llm = Load(max);
        Assert.That(llm.ContextLength, Is.EqualTo(max));
        float[] logits = new float[300];
        llm.Evaluate([1, 5, 9], LogitsMode.Last, logits);
        Assert.That(logits.All(float.IsFinite), "a model at the limit runs");
    }
}
