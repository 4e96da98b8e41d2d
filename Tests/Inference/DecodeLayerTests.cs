using Tipo.Inference;
using Tipo.Inference.Kernels;
using Tipo.Inference.Sampling;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// The one-dispatch decode layer (decode_layer.comp: a layer's five phases in one dispatch, grid-wide syncs between
/// them) against llama.cpp's logits with the GPU kernel set. Lavapipe runs it with one workgroup (its syncs never wait;
/// more is refused there); a GPU that reports its compute units runs one per unit, and there the tests also ask for more
/// workgroups than it runs at once: a sync must give up, the step be rerun with per-op dispatches, the logits stay right.
/// </summary>
public class DecodeLayerTests : GpuTest
{
    private LlamaModel Load(string model, int? workgroups, KvCacheType kv = KvCacheType.F32, uint? attentionChunkKeys = null) =>
        LlamaModel.Load(Device, TestData.Shared(model), new InferenceOptions
        {
            KvCacheType = kv, ContextLength = 512, Kernels = KernelSet.Gpu, DecodeWorkgroups = workgroups, DecodeAttentionChunkKeys = attentionChunkKeys,
        });

    private static void AssertMatchesLlamaCpp(LlamaModel llm, string what, KvCacheType kv)
    {
        var reference = Reference.Load("tipo-tiny-greedy");
        float[] logits = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: true);
        var (worst, row, top1) = Compare.Rows(logits, reference.Logits, reference.LogitsRows, reference.Vocab);
        TestContext.Out.WriteLine($"{what}, {kv} cache, {llm.DecodeLayout}: worst row NMSE {worst:E2} (row {row}), top-1 {top1:P1}; fell back: {llm.DecodeLayerFellBack}");
        // The F16 cache rounds k and v: llama.cpp's references were made with an F32 one.
        Assert.That(worst, Is.LessThanOrEqualTo(kv == KvCacheType.F32 ? 1e-4 : 1e-3), $"worst row NMSE (row {row})");
        Assert.That(top1, Is.GreaterThanOrEqualTo(0.97), "top-1 agreement");
    }

    [TestCase(KvCacheType.F32)]
    [TestCase(KvCacheType.F16)]
    public void OneWorkgroupMatchesLlamaCpp(KvCacheType kv)
    {
        using var llm = Load("models/tipo-tiny-f16.gguf", 1, kv);
        Assert.That(llm.DecodeLayout, Does.StartWith("one dispatch per layer (1 workgroup of"));
        AssertMatchesLlamaCpp(llm, "one workgroup", kv);
        Assert.That(llm.DecodeLayerFellBack, Is.False, "one workgroup never waits for another");
    }

    [Test]
    public void TheDevicesOwnGridMatchesLlamaCpp()
    {
        using var llm = Load("models/tipo-tiny-f16.gguf", null);
        uint units = Device.Info.ComputeUnits;
        if (Device.Info.Kind == Tipo.Vulkan.DeviceKind.Cpu || units == 0)
        {
            Assert.That(llm.DecodeLayout, Is.EqualTo("per-op dispatches"), "no compute units reported: decode as before");
            return;
        }
        Assert.That(llm.DecodeLayout, Does.StartWith($"one dispatch per layer ({units * DecodeLayerKernel.WorkgroupsPerComputeUnit(llm.Config, Device.Info.SubgroupSize)} workgroups"));
        AssertMatchesLlamaCpp(llm, $"{units} compute units", KvCacheType.F32);
        Assert.That(llm.DecodeLayerFellBack, Is.False, "one workgroup per compute unit all run at once");
    }

    // The shapes the grid rule was measured on (an H200: 32-lane subgroups) keep two workgroups a compute unit; wider
    // models, whose loads ahead need more registers, get one.
    [TestCase(768, 2304, 12, 2u)]      // tipo-200m: gate/up 4 rows x 3 texels a lane
    [TestCase(1280, 3840, 20, 2u)]     // tipo-500m: 4 x 5 texels = 80 registers
    [TestCase(2048, 5632, 32, 1u)]     // a 1B LLaMA: 4 x 8 texels
    public void WorkgroupsPerComputeUnitFollowTheRegistersLoadedAhead(int hidden, int ff, int heads, uint expected)
    {
        var c = new Tipo.Models.LlamaConfig(hidden, ff, LayerCount: 1, HeadCount: heads, KvHeadCount: heads, HeadDim: 64, VocabSize: 32000,
            RmsNormEps: 1e-5f, RopeTheta: 10000f, TieWordEmbeddings: false, MaxPositionEmbeddings: 2048, BosTokenId: 1, EosTokenId: 2, RopeDimensionCount: 64);
        Assert.That(DecodeLayerKernel.WorkgroupsPerComputeUnit(c, 32), Is.EqualTo(expected));
    }

    [Test]
    public void DecodeAndPrefillOfTheSameIdsAgree()
    {
        var reference = Reference.Load("tipo-tiny-greedy");
        using var llm = Load("models/tipo-tiny-f16.gguf", 1);
        float[] prefill = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: false);
        float[] decode = TeacherForcing.Logits(llm, reference.TeacherForcedIds, oneTokenPerPass: true);
        AssertSameComputation(decode, prefill, reference, "decode layer against the per-op prefill");
    }

    // Two recordings of the same arithmetic up to the order of its sums: the same top-1 everywhere, NMSE near rounding.
    private static void AssertSameComputation(float[] actual, float[] expected, Reference reference, string what)
    {
        var (worst, row, top1) = Compare.Rows(actual, expected, reference.LogitsRows, reference.Vocab);
        TestContext.Out.WriteLine($"{what}: worst row NMSE {worst:E2} (row {row}), top-1 {top1:P1}");
        Assert.That(worst, Is.LessThanOrEqualTo(1e-8), $"worst row NMSE (row {row})");
        Assert.That(top1, Is.EqualTo(1.0));
    }

    // Attention runs in chunks of a head's keys, one a workgroup, and the workgroup that finishes a head's last chunk merges
    // them. llama.cpp's references are 64 tokens: one chunk at the default 64 keys. So these ask for 8 and 24 keys (8 and
    // 3 chunks at the last row) and compare with the default's whole heads and with llama.cpp.
    [TestCase(8u, KvCacheType.F32)]
    [TestCase(24u, KvCacheType.F16)]
    public void AttentionInChunksOfKeysMatchesWholeHeads(uint chunkKeys, KvCacheType kv)
    {
        var reference = Reference.Load("tipo-tiny-greedy");
        using var whole = Load("models/tipo-tiny-f16.gguf", 1, kv);
        using var chunked = Load("models/tipo-tiny-f16.gguf", 1, kv, chunkKeys);
        float[] expected = TeacherForcing.Logits(whole, reference.TeacherForcedIds, oneTokenPerPass: true);
        float[] actual = TeacherForcing.Logits(chunked, reference.TeacherForcedIds, oneTokenPerPass: true);
        AssertSameComputation(actual, expected, reference, $"chunks of {chunkKeys} keys against whole heads, {kv} cache");
        AssertMatchesLlamaCpp(chunked, $"chunks of {chunkKeys} keys", kv);
    }

    // The merge of a head's chunks gives each element WG / head_dim lanes (4 for tipo-tiny's heads of 64): heads of 128
    // take 2, against the per-op decode of the same random weights, 8-key chunks (5 chunks at the last of 40 tokens).
    [Test]
    public void ChunksOfWiderHeadsMergeAsThePerOpDecode()
    {
        var shape = new Tipo.Inference.Benchmarks.SyntheticShape("heads-of-128", 256, 512, 2, 2, 2, 300, 64);
        using var model = new SyntheticGguf(shape, seed: 5);
        LlamaModel Open(int workgroups) => LlamaModel.Load(Device, model.Path, new InferenceOptions
        {
            KvCacheType = KvCacheType.F32, ContextLength = 64, Kernels = KernelSet.Gpu, DecodeWorkgroups = workgroups, DecodeAttentionChunkKeys = 8,
        });
        int[] ids = Enumerable.Range(0, 40).Select(i => 1 + i * 7 % 299).ToArray();
        using var perOp = Open(0);
        using var layers = Open(1);
        Assert.That(layers.Config.HeadDim, Is.EqualTo(128));
        Assert.That(layers.DecodeLayout, Does.StartWith("one dispatch per layer"));
        float[] expected = TeacherForcing.Logits(perOp, ids, oneTokenPerPass: true);
        float[] actual = TeacherForcing.Logits(layers, ids, oneTokenPerPass: true);
        var (worst, row, top1) = Compare.Rows(actual, expected, ids.Length, shape.Vocab);
        TestContext.Out.WriteLine($"heads of 128, 8-key chunks, against per-op decode: worst row NMSE {worst:E2} (row {row}), top-1 {top1:P1}");
        Assert.That(worst, Is.LessThanOrEqualTo(1e-8), $"worst row NMSE (row {row})");
        Assert.That(top1, Is.EqualTo(1.0));
    }

    // tipo bench --profile's view inside the one-dispatch layers: the kernel's timeline variant writes the device clock at
    // every phase boundary of every workgroup. Its marks must come in the kernel's order, and the step it ran must leave
    // the same cache row as the plain kernel (the next token's logits still match llama.cpp).
    [Test]
    public void ThePhaseTimelineMarksEveryPhaseInOrderAndLeavesTheCacheRight()
    {
        var reference = Reference.Load("tipo-tiny-greedy");
        using var llm = Load("models/tipo-tiny-f16.gguf", 1);
        if (!Device.Info.ShaderDeviceClock)
        {
            Assert.That(llm.CanProfileDecodeLayerPhases, Is.False);
            Assert.Ignore($"{Device.Info.Name} has no device clock in shaders (VK_KHR_shader_clock)");
        }
        int[] ids = reference.TeacherForcedIds;
        const int k = 20;
        llm.Evaluate(ids.AsSpan(0, k), LogitsMode.Last, new float[llm.VocabSize]);
        var timeline = llm.ProfileDecodeLayerPhases(ids[k]);
        float[] next = new float[llm.VocabSize];
        llm.Evaluate(ids.AsSpan(k + 1, 1), LogitsMode.Last, next);

        Assert.That((timeline.Layers, timeline.Workgroups), Is.EqualTo((llm.Config.LayerCount, 1)));
        int[] order = [0, 1, 5, 2, 6, 3, 7, 4, 8, 9];   // start, (arrival at sync j, exit from it) for j = 1..4, end
        for (int l = 0; l < timeline.Layers; l++)
        {
            for (int i = 1; i < order.Length; i++)
                Assert.That(timeline.At(l, 0, order[i]), Is.GreaterThanOrEqualTo(timeline.At(l, 0, order[i - 1])), $"layer {l}, mark {order[i]} after {order[i - 1]}");
            if (l > 0) Assert.That(timeline.At(l, 0, 0), Is.GreaterThanOrEqualTo(timeline.At(l - 1, 0, 9)), $"layer {l} starts after layer {l - 1} ends");
        }
        var (phases, layerUs) = timeline.Summarise();
        Assert.That(phases.Select(p => p.Name), Is.EqualTo(DecodeLayerTimeline.PhaseNames));
        Assert.That(phases.All(p => p.WorkMicroseconds >= 0 && p.SyncMicroseconds >= 0) && layerUs > 0, timeline.Format());
        TestContext.Out.WriteLine(timeline.Format());

        var expected = reference.Logits.AsSpan((k + 1) * reference.Vocab, reference.Vocab).ToArray();
        var (worst, _, top1) = Compare.Rows(next, expected, 1, reference.Vocab);
        Assert.That(worst, Is.LessThanOrEqualTo(1e-4), "the token after the profiled step");
        Assert.That(top1, Is.EqualTo(1.0));
    }

    [Test]
    public void MoreWorkgroupsThanRunAtOnceFallBackOrAreRefused()
    {
        if (Device.Info.Kind == Tipo.Vulkan.DeviceKind.Cpu)
        {
            var ex = Assert.Throws<Tipo.Errors.UnsupportedFeatureException>(() => Load("models/tipo-tiny-f16.gguf", 2).Dispose());
            Assert.That(ex!.Message, Does.Contain("one workgroup").And.Contain(Device.Info.Name));
            return;
        }
        // 8192 workgroups of 256 lanes: more than any GPU holds at once (an H200 holds 1056).
        var reference = Reference.Load("tipo-tiny-greedy");
        using var llm = Load("models/tipo-tiny-f16.gguf", 8192);
        var result = new Generator(llm).Generate(reference.Prompt, 8, SamplingOptions.Greedy, seed: 0, stopAtEos: false);
        Assert.That(llm.DecodeLayerFellBack, Is.True, "8192 workgroups cannot all run at once");
        Assert.That(llm.DecodeLayout, Does.StartWith("per-op dispatches (after"));
        Assert.That(result.Tokens, Is.EqualTo(reference.Greedy.Take(8)), "the failed step was rerun");
    }

    [Test]
    public void AFailedStepIsRerunWithPerOpDispatches()
    {
        // Lavapipe's one workgroup never waits, so a sync never gives up there: the flag a failed sync leaves is raised
        // by hand before a step halfway through, and that step must be rerun and every row still match.
        using var llm = Load("models/tipo-tiny-f16.gguf", 1);
        FailedDecodeStep.AssertRerunMatches(llm, Reference.Load("tipo-tiny-greedy"));
    }

    [Test]
    public void TipoSampledGenerationWithGpuTopKEqualsPerOpDecode()
    {
        // What a TIPO run records on an NVIDIA GPU: the decode layers, the head and the GPU top-k in one step, sampled
        // with TIPO's settings; the same tokens as the per-op recording for the same seed.
        IReadOnlyList<int> Generate(int workgroups)
        {
            using var llm = LlamaModel.Load(Device, TestData.Shared("models/tipo-tiny-f16.gguf"), new InferenceOptions
            {
                KvCacheType = KvCacheType.F32, ContextLength = 256, Kernels = KernelSet.Gpu, DecodeWorkgroups = workgroups, GpuTopK = true,
            });
            Assert.That(Generator.UsesGpuTopK(llm, Tipo.Expansion.TipoDefaults.Sampling), Is.True);
            Assert.That(llm.DecodeLayout, workgroups == 0 ? Is.EqualTo("per-op dispatches") : Does.StartWith("one dispatch per layer"));
            return new Generator(llm).Generate([1, 20, 30, 40], 48, Tipo.Expansion.TipoDefaults.Sampling, seed: 7, stopAtEos: false).Tokens;
        }
        var perOp = Generate(0);
        var layers = Generate(1);
        Assert.That(layers, Is.EqualTo(perOp));
        Assert.That(perOp.Distinct().Count(), Is.GreaterThan(3), "a generation that samples, not one repeated token");
    }

    [Test]
    public void ModelsItDoesNotFitDecodeAsBefore()
    {
        // F32 weights (the Hugging Face dir) and Q8_0 blocks: the per-op dispatches, whatever the grid asked for.
        using (var hf = Load("models/tipo-tiny", 1)) Assert.That(hf.DecodeLayout, Is.EqualTo("per-op dispatches"));
        using (var q8 = Load("models/tipo-tiny-q8_0.gguf", 1)) Assert.That(q8.DecodeLayout, Is.EqualTo("per-op dispatches"));
        using var off = Load("models/tipo-tiny-f16.gguf", 0);
        Assert.That(off.DecodeLayout, Is.EqualTo("per-op dispatches"));
    }
}
