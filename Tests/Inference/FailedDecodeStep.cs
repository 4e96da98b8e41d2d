using Tipo.Inference;

namespace Tipo.Tests.Inference;

/// <summary>The rerun of a decode step whose one-dispatch layers flagged a failed sync, shared by the GPU and the CPU
/// decode-layer tests.</summary>
internal static class FailedDecodeStep
{
    /// <summary>Decodes the reference's teacher-forced ids one a pass, the failure flag raised by hand before the step
    /// halfway through (a sync that gave up leaves it so): that step must be rerun with the per-op dispatches and cached
    /// once, decode stay per-op, and every row still match llama.cpp.</summary>
    public static void AssertRerunMatches(LlamaModel llm, Reference reference)
    {
        int[] ids = reference.TeacherForcedIds;
        var logits = new float[ids.Length * reference.Vocab];
        llm.ResetCache();
        for (int i = 0; i < ids.Length; i++)
        {
            if (i == ids.Length / 2)
            {
                Assert.That(llm.DecodeLayerFellBack, Is.False);
                llm.RaiseDecodeLayerFailureForTests();
            }
            llm.Evaluate([ids[i]], LogitsMode.Last, logits.AsSpan(i * reference.Vocab, reference.Vocab));
        }
        AssertFellBack(llm);
        Assert.That(llm.CachedTokens, Is.EqualTo(ids), "the rerun step was cached once");
        AssertMatches(logits, reference);
    }

    /// <summary>Decode went back to per-op dispatches for good.</summary>
    public static void AssertFellBack(LlamaModel llm)
    {
        Assert.That(llm.DecodeLayerFellBack, Is.True);
        Assert.That(llm.DecodeLayout, Does.StartWith("per-op dispatches (after"));
    }

    /// <summary>Teacher-forced logits against llama.cpp's (an F32 cache): worst row NMSE 1e-4, top-1 97 %.</summary>
    public static void AssertMatches(float[] logits, Reference reference)
    {
        var (worst, row, top1) = Compare.Rows(logits, reference.Logits, reference.LogitsRows, reference.Vocab);
        Assert.That(worst, Is.LessThanOrEqualTo(1e-4), $"worst row NMSE (row {row})");
        Assert.That(top1, Is.GreaterThanOrEqualTo(0.97));
    }
}
