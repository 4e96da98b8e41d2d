using Tipo.Inference;
using Tipo.Tests.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// Reusing the KV cache's prefix is numerically invisible: a prompt's last logits are bit-identical whether it was
/// evaluated from position 0 or after a different prompt (or a decoded continuation) left a shared prefix in the cache.
/// TipoExpander relies on this: its result must not depend on which request ran before.
/// </summary>
public class PrefixReuseTests : GpuTest
{
    private const string Meta = "target: <|very_short|> <|tag_to_long|>\nrating: general\nartist: <|empty|>\naspect_ratio: 1.0\ngeneral: ";

    [TestCase(KvCacheType.F16)]
    [TestCase(KvCacheType.F32)]
    public void LogitsAfterAReusedPrefixAreBitIdentical(KvCacheType kv)
    {
        using var model = LlamaModel.Load(Device, TestData.Shared("models/tipo-tiny"), new InferenceOptions { KvCacheType = kv, ContextLength = 512 });
        var first = model.Tokenizer.Encode(Meta + "1girl, solo, long hair", addBos: true, parseSpecial: true);
        var second = model.Tokenizer.Encode(Meta + "1boy, scenery, hat, sky", addBos: true, parseSpecial: true);
        int[] decoded = [100, 101, 102];
        var continued = first.Concat(decoded).Concat([500, 600]).ToList();

        float[] Fresh(IReadOnlyList<int> prompt)
        {
            var logits = new float[model.VocabSize];
            model.ResetCache();
            model.EvaluatePrompt(prompt, logits);
            return logits;
        }

        // The first prompt, then three decode steps (one token per pass), as a TIPO model call leaves the cache.
        void LeaveFirstInCache()
        {
            var scratch = new float[model.VocabSize];
            model.ResetCache();
            model.EvaluatePrompt(first, scratch);
            foreach (int t in decoded)
                model.Evaluate([t], LogitsMode.Last, scratch);
        }

        float[] Reused(IReadOnlyList<int> prompt, out int evaluated)
        {
            var logits = new float[model.VocabSize];
            evaluated = model.EvaluatePrompt(prompt, logits);
            return logits;
        }

        float[] secondFresh = Fresh(second), continuedFresh = Fresh(continued);

        LeaveFirstInCache();
        float[] secondReused = Reused(second, out int secondEvaluated);
        float[] secondAgain = Reused(second, out int againEvaluated);   // the whole prompt cached: its last token runs alone
        LeaveFirstInCache();
        float[] continuedReused = Reused(continued, out int continuedEvaluated);   // the prefix holds decoded tokens

        Assert.Multiple(() =>
        {
            Assert.That(secondEvaluated, Is.LessThan(second.Count / 2), "the shared meta lines came from the cache");
            Assert.That(againEvaluated, Is.EqualTo(1));
            Assert.That(continuedEvaluated, Is.EqualTo(2));
            Assert.That(secondReused, Is.EqualTo(secondFresh), "a prompt after another sharing its meta lines");
            Assert.That(secondAgain, Is.EqualTo(secondFresh), "the same prompt again (last token re-evaluated on its own)");
            Assert.That(continuedReused, Is.EqualTo(continuedFresh), "a prompt whose prefix was decoded one token at a time");
        });
    }
}
