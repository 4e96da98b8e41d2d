using Tipo.Inference;
using Tipo.Models;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>llvmpipe runs models too small for its thread pool on the submitting thread (LP_NUM_THREADS=0 for that open).</summary>
public class InlineCpuDriverTests : GpuTest
{
    [Test]
    public void SmallModelsRunInline_LargeOnesOnThePool()
    {
        using var file = LlamaModelFile.Open(TestData.Shared("models/stories260K.gguf"));
        Assert.That(LlamaModel.PrefersInlineCpuDriver(file.Config, file.TotalBytes), Is.True, "stories260K: 1 MB, 5 layers");
        Assert.That(LlamaModel.PrefersInlineCpuDriver(file.Config, 340L << 20), Is.False, "340 MB of weights pay for a second core");
    }

    [Test]
    public void LoadingStories_OnLlvmpipe_OpensItInline_AndLeavesTheEnvironmentAlone()
    {
        bool llvmpipe = Device.Info.DriverName.Contains("llvmpipe", StringComparison.OrdinalIgnoreCase);
        bool userSet = Environment.GetEnvironmentVariable("LP_NUM_THREADS") != null;
        using var llm = LlamaModel.Load(TestData.Shared("models/stories260K.gguf"), new InferenceOptions { Device = Device.Info.Index.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.That(llm.CpuDriverInline, Is.EqualTo(llvmpipe && !userSet));
        Assert.That(Environment.GetEnvironmentVariable("LP_NUM_THREADS") != null, Is.EqualTo(userSet), "the process environment is as it was");
        // And it still computes the right thing inline: the reference's first greedy token after its prompt.
        var reference = Reference.Load("stories260K-greedy");
        if (reference.Prompt.Length > 1)
            llm.Evaluate(reference.Prompt[..^1], LogitsMode.Last, new float[llm.VocabSize]);
        Assert.That(llm.EvaluateGreedy(reference.Prompt[^1]), Is.EqualTo(reference.Greedy[0]));
    }
}
