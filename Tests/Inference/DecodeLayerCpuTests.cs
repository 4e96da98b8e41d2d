using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// The one-dispatch CPU decode layer (decode_layer_cpu_f16.comp: a layer's five per-op dispatches in one, spin syncs
/// between its workgroups, one per llvmpipe thread) against the per-op decode it stands in for and against llama.cpp, on
/// lavapipe with the CPU kernel set. It reads and writes the per-op kernels' buffers with their arithmetic (and their
/// fetch lag, Mesa 23.2-24), so the two recordings give the same bits.
/// </summary>
public class DecodeLayerCpuTests : GpuTest
{
    private LlamaModel Load(string model, int? workgroups, KvCacheType kv = KvCacheType.F32, int context = 512) =>
        LlamaModel.Load(Device, TestData.Shared(model), new InferenceOptions
        {
            KvCacheType = kv, ContextLength = context, Kernels = KernelSet.Cpu, CpuDecodeWorkgroups = workgroups,
        });

    private void RequireLlvmpipe()
    {
        if (Device.Info.Kind != Tipo.Vulkan.DeviceKind.Cpu || !Device.Info.DriverName.Contains("llvmpipe", StringComparison.OrdinalIgnoreCase))
            Assert.Ignore($"the one-dispatch CPU decode layer runs on llvmpipe; {Device.Info.Name} is not");
    }

    // The model's matrices go through the rows-per-lane kernels, which the layer kernel repeats (with their fetch lag).
    private static bool Fits(LlamaModel llm) => llm.MatmulChoices.StartsWith("rows-per-lane matmuls", StringComparison.Ordinal);

    /// <summary>The CPUs llvmpipe starts a thread for (the online CPUs), or 0 where /sys does not say.</summary>
    private static int OnlineCpus()
    {
        try
        {
            int n = 0;
            foreach (var range in File.ReadAllText("/sys/devices/system/cpu/online").Trim().Split(','))
            {
                var ends = range.Split('-').Select(int.Parse).ToArray();
                n += ends.Length == 2 ? ends[1] - ends[0] + 1 : 1;
            }
            return n;
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
        catch (FormatException) { return 0; }
    }

    // F16 weights (TIPO's GGUFs), and F32 (its Hugging Face dir).
    [TestCase("models/tipo-tiny-f16.gguf", KvCacheType.F32)]
    [TestCase("models/tipo-tiny-f16.gguf", KvCacheType.F16)]
    [TestCase("models/tipo-tiny", KvCacheType.F32)]
    public void TwoWorkgroupsGiveThePerOpDecodesBitsAndMatchLlamaCpp(string model, KvCacheType kv)
    {
        RequireLlvmpipe();
        var reference = Reference.Load("tipo-tiny-greedy");
        using var perOp = Load(model, 0, kv);
        using var layers = Load(model, 2, kv);
        Assert.That(perOp.DecodeLayout, Is.EqualTo("per-op dispatches"));
        if (Fits(layers))
            Assert.That(layers.DecodeLayout, Is.EqualTo("one dispatch per layer (2 workgroups of one subgroup, spin syncs)"));
        else
            Assert.That(layers.DecodeLayout, Is.EqualTo("per-op dispatches"), layers.MatmulChoices);
        float[] expected = TeacherForcing.Logits(perOp, reference.TeacherForcedIds, oneTokenPerPass: true);
        float[] actual = TeacherForcing.Logits(layers, reference.TeacherForcedIds, oneTokenPerPass: true);
        Assert.That(layers.DecodeLayerFellBack, Is.False, "two workgroups on llvmpipe's threads all run at once");
        Assert.That(actual, Is.EqualTo(expected), "the per-op kernels' arithmetic, bit for bit");
        var (worst, row, top1) = Compare.Rows(actual, reference.Logits, reference.LogitsRows, reference.Vocab);
        TestContext.Out.WriteLine($"{kv} cache, {layers.DecodeLayout}: worst row NMSE against llama.cpp {worst:E2} (row {row}), top-1 {top1:P1}");
        Assert.That(worst, Is.LessThanOrEqualTo(kv == KvCacheType.F32 ? 1e-4 : 1e-3), $"worst row NMSE (row {row})");
        Assert.That(top1, Is.GreaterThanOrEqualTo(0.97));
    }

    // Q8_0 on Mesa 22.3 (its own rows kernels): decode as before. (From Mesa 23.2 on its matrices are F16 on the device.)
    [Test]
    public void Q8_0KernelsDecodePerOp()
    {
        RequireLlvmpipe();
        using var q8 = Load("models/tipo-tiny-q8_0.gguf", 2);
        if (!q8.MatmulChoices.EndsWith("all but Q8_0", StringComparison.Ordinal)) Assert.Ignore($"Q8_0 is dequantised to F16 here: {q8.MatmulChoices}");
        Assert.That(q8.DecodeLayout, Is.EqualTo("per-op dispatches"));
    }

    // A grouped-query model with other head counts than TIPO's (3 query heads a KV head, heads of 32, 5 layers) and
    // context past several key steps: the same bits as the per-op decode.
    [Test]
    public void AGroupedQueryModelGivesThePerOpDecodesBits()
    {
        RequireLlvmpipe();
        var shape = new Tipo.Inference.Benchmarks.SyntheticShape("gqa", 192, 512, 5, 6, 2, 300, 64);
        using var model = new SyntheticGguf(shape, seed: 11);
        LlamaModel Open(int workgroups) => LlamaModel.Load(Device, model.Path, new InferenceOptions
        {
            KvCacheType = KvCacheType.F16, ContextLength = 128, Kernels = KernelSet.Cpu, CpuDecodeWorkgroups = workgroups,
        });
        int[] ids = Enumerable.Range(0, 70).Select(i => 1 + i * 13 % 299).ToArray();
        using var perOp = Open(0);
        using var layers = Open(2);
        TestContext.Out.WriteLine($"{layers.DecodeLayout}; {layers.MatmulChoices}");
        if (Fits(layers)) Assert.That(layers.DecodeLayout, Does.StartWith("one dispatch per layer (2 workgroups"));
        Assert.That(TeacherForcing.Logits(layers, ids, oneTokenPerPass: true), Is.EqualTo(TeacherForcing.Logits(perOp, ids, oneTokenPerPass: true)));
        Assert.That(layers.DecodeLayerFellBack, Is.False);
    }

    private static Tipo.Models.LlamaConfig Shape(int hidden, int ff, int layers, int heads) =>
        new(hidden, ff, LayerCount: layers, HeadCount: heads, KvHeadCount: heads, HeadDim: hidden / heads, VocabSize: 32013,
            RmsNormEps: 1e-5f, RopeTheta: 10000f, TieWordEmbeddings: false, MaxPositionEmbeddings: 2048, BosTokenId: 1, EosTokenId: 2, RopeDimensionCount: hidden / heads);

    // TIPO's shapes get one workgroup per llvmpipe thread; models whose layers are a few microseconds of work (the test
    // models) decode per-op unless asked.
    [Test]
    public void TheDefaultGridIsOneWorkgroupPerLlvmpipeThreadForTiposShapes()
    {
        RequireLlvmpipe();
        uint threads = (uint)Math.Min(Environment.ProcessorCount, DecodeLayerCpuKernel.LlvmpipeMaxThreads);
        if (int.TryParse(Environment.GetEnvironmentVariable("LP_NUM_THREADS"), out int lp) && lp >= 0) threads = Math.Min(threads, (uint)lp);
        uint expected = threads >= 2 ? threads : 0;
        Assert.That(DecodeLayerCpuKernel.LayerBytes(Shape(768, 2304, 20, 12)), Is.EqualTo(2L * (768 * 2304 + 768 * 768 + 3L * 768 * 2304)));
        Assert.That(DecodeLayerCpuKernel.WorkgroupsFor(Device, Shape(512, 1536, 20, 8)), Is.EqualTo(expected), "tipo-100m-like, 6.8 MB a layer");
        Assert.That(DecodeLayerCpuKernel.WorkgroupsFor(Device, Shape(768, 2304, 20, 12)), Is.EqualTo(expected), "tipo-200m");
        Assert.That(DecodeLayerCpuKernel.WorkgroupsFor(Device, Shape(256, 768, 2, 4)), Is.EqualTo(0u), "1.2 MB a layer");
        Assert.That(DecodeLayerCpuKernel.WorkgroupsFor(Device, Shape(256, 768, 2, 4), requested: 2), Is.EqualTo(2u), "asked for");
        using var tiny = Load("models/tipo-tiny-f16.gguf", null);
        TestContext.Out.WriteLine($"{Environment.ProcessorCount} processors, {OnlineCpus()} online; tipo-tiny: {tiny.DecodeLayout}");
        Assert.That(tiny.DecodeLayout, Is.EqualTo("per-op dispatches"), "the test model's layers are below the threshold");
    }

    // More workgroups than llvmpipe has threads: the last waits for a thread that the others hold while they spin, so their
    // first sync gives up; the step is rerun with the per-op dispatches and every token comes out right.
    [Test]
    public void MoreWorkgroupsThanThreadsGiveUpAndTheStepIsRerun()
    {
        RequireLlvmpipe();
        int online = OnlineCpus();
        if (online < 1) Assert.Ignore("/sys/devices/system/cpu/online does not say how many threads llvmpipe runs");
        int threads = Math.Min(online, DecodeLayerCpuKernel.LlvmpipeMaxThreads);
        if (int.TryParse(Environment.GetEnvironmentVariable("LP_NUM_THREADS"), out int lp) && lp >= 0) threads = Math.Min(threads, lp);
        var reference = Reference.Load("tipo-tiny-greedy");
        using var llm = Load("models/tipo-tiny-f16.gguf", Math.Max(threads + 1, 2));
        if (!Fits(llm) || llm.CpuDriverInline) Assert.Ignore($"decode is per-op here: {llm.MatmulChoices}");
        Assert.That(llm.DecodeLayout, Does.StartWith("one dispatch per layer"));
        float[] logits = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: true);
        Assert.That(llm.DecodeLayerFellBack, Is.True, $"{threads + 1} workgroups on {threads} threads cannot all run at once");
        FailedDecodeStep.AssertFellBack(llm);
        FailedDecodeStep.AssertMatches(logits, reference);
    }

    [Test]
    public void AFailedStepIsRerunWithPerOpDispatches()
    {
        RequireLlvmpipe();
        using var llm = Load("models/tipo-tiny-f16.gguf", 2);
        if (!Fits(llm)) Assert.Ignore($"decode is per-op here: {llm.MatmulChoices}");
        FailedDecodeStep.AssertRerunMatches(llm, Reference.Load("tipo-tiny-greedy"));
    }

    [Test]
    public void ModelsItDoesNotFitDecodeAsBefore()
    {
        RequireLlvmpipe();
        // One workgroup (nothing to sync), and off.
        using (var one = Load("models/tipo-tiny-f16.gguf", 1)) Assert.That(one.DecodeLayout, Is.EqualTo("per-op dispatches"));
        using var off = Load("models/tipo-tiny-f16.gguf", 0);
        Assert.That(off.DecodeLayout, Is.EqualTo("per-op dispatches"));
    }

    // llvmpipe (Mesa 22.3) ends an invocation's loops after 65535 iterations in all: the layer's own loops must leave the
    // syncs room, which long contexts (attention's key loop) do not.
    [Test]
    public void ContextsWhoseLoopsLeaveTheSyncsNoRoomAreRefused()
    {
        RequireLlvmpipe();
        var c = new Tipo.Models.LlamaConfig(768, 2304, LayerCount: 20, HeadCount: 12, KvHeadCount: 12, HeadDim: 64, VocabSize: 32013,
            RmsNormEps: 1e-5f, RopeTheta: 10000f, TieWordEmbeddings: false, MaxPositionEmbeddings: 2048, BosTokenId: 1, EosTokenId: 2, RopeDimensionCount: 64);
        long at2048 = DecodeLayerCpuKernel.LoopIterations(c, 2048, 2, 8, 16);
        Assert.That(at2048, Is.InRange(4000, 12000), "tipo-200m at TIPO's context");
        Assert.That(DecodeLayerCpuKernel.WhyNot(Device, c, 2048, 2, 8, 16), Is.Null);
        Assert.That(DecodeLayerCpuKernel.WhyNot(Device, c, 200_000, 2, 8, 16), Does.Contain("65535"));
        Assert.That(DecodeLayerCpuKernel.WhyNot(Device, c, 2048, 1, 8, 16), Does.Contain("two workgroups"));
        // F32 weights take twice the k-loop iterations of F16 (4 weights a texel).
        long f32 = DecodeLayerCpuKernel.LoopIterations(c, 2048, 2, 8, 16, weightsPerTexel: 4);
        Assert.That(f32 - at2048, Is.GreaterThan(3000), "F32's k loops counted as 4 weights a texel");
    }
}
