namespace Tipo.Inference;

/// <summary>Teacher-forced evaluation: the logits after every prefix of a token sequence.</summary>
public static class TeacherForcing
{
    /// <summary>
    /// Returns [ids.Length, vocab] logits, row p = logits after feeding ids[0..p], starting from an empty cache.
    /// <paramref name="oneTokenPerPass"/> runs the decode path (one id per pass) instead of one prefill pass.
    /// </summary>
    public static float[] Logits(LlamaModel model, IReadOnlyList<int> ids, bool oneTokenPerPass)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ids);
        int vocab = model.VocabSize;
        float[] logits = new float[(long)ids.Count * vocab];
        model.ResetCache();
        if (oneTokenPerPass)
        {
            int[] one = new int[1];
            for (int p = 0; p < ids.Count; p++)
            {
                one[0] = ids[p];
                model.Evaluate(one, LogitsMode.Last, logits.AsSpan(p * vocab, vocab));
            }
        }
        else
        {
            model.Evaluate(ids.ToArray(), LogitsMode.All, logits);
        }
        return logits;
    }
}
