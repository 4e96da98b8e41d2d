using Tipo.Errors;
using Tipo.Inference.Sampling;

namespace Tipo.Inference;

/// <summary>What stopped a generation.</summary>
public enum StopReason
{
    /// <summary>The model produced the end-of-sequence token.</summary>
    EndOfSequence,
    /// <summary>The requested number of new tokens was reached.</summary>
    TokenLimit,
}

/// <summary>The result of one generation.</summary>
public sealed record Generation(IReadOnlyList<int> Tokens, StopReason StopReason, int PromptTokensEvaluated, TimeSpan PromptTime, TimeSpan GenerationTime);

/// <summary>
/// The generation loop: prompt in (reusing the cached prefix), then one decode step per new token, each
/// choosing the next token with a <see cref="Sampler"/> seeded for reproducibility.
/// </summary>
public sealed class Generator
{
    private readonly LlamaModel _model;
    private readonly float[] _logits;

    /// <summary>
    /// How many of the best raw logits sampling with <paramref name="options"/> needs to choose exactly as from the whole
    /// row (<see cref="Sampler.SampleFromCandidates"/>), or 0 where it needs the whole row. Top-k keeps k; the repetition
    /// penalty only lowers logits (penalty &gt;= 1), so at most RepeatLastN tokens can drop out of the raw top-k, and the
    /// penalized top-k lies within the raw top k + RepeatLastN. Top-k off, a penalty below 1 (it raises logits) or a
    /// window of the whole history need the whole row.
    /// </summary>
    public static int CandidatesNeeded(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int k = options.IsGreedy ? 1 : options.TopK;
        if (k <= 0) return 0;
        if (options.RepeatPenalty == 1f || options.RepeatLastN == 0) return k;
        if (options.RepeatPenalty < 1f || options.RepeatLastN < 0) return 0;
        return k + options.RepeatLastN;
    }

    /// <summary>Whether decoding with <paramref name="options"/> needs no logits on the host: plain greedy decoding, where
    /// the GPU picks each token (<see cref="LlamaModel.EvaluateGreedy"/>).</summary>
    public static bool UsesGpuArgmax(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.IsGreedy && options.RepeatPenalty == 1f;
    }

    /// <summary>Whether decoding with <paramref name="options"/> on <paramref name="model"/> reads back the GPU's best
    /// logits (<see cref="LlamaModel.EvaluateTopK"/>) instead of the whole row.</summary>
    public static bool UsesGpuTopK(LlamaModel model, SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        int need = CandidatesNeeded(options);
        return model.GpuTopK && need > 0 && need <= Kernels.TopKKernel.Capacity && !UsesGpuArgmax(options);
    }

    public Generator(LlamaModel model)
    {
        _model = model;
        _logits = new float[model.VocabSize];
    }

    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="prompt"/>; stops at EOS
    /// (not included in the result) unless <paramref name="stopAtEos"/> is false.
    /// </summary>
    public Generation Generate(IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions options, ulong seed,
        bool stopAtEos = true, Action<int>? onToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        if (prompt.Count == 0) throw new ArgumentException("the prompt has no tokens", nameof(prompt));
        if (prompt.Count + maxNewTokens > _model.ContextLength)
            throw new ContextOverflowException(
                $"prompt ({prompt.Count} tokens) + new tokens ({maxNewTokens}) = {prompt.Count + maxNewTokens} exceed the context length {_model.ContextLength}");

        var sampler = new Sampler(options, seed);
        var history = new List<int>(prompt.Count + maxNewTokens);
        history.AddRange(prompt);
        var generated = new List<int>(maxNewTokens);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        int evaluated = _model.EvaluatePrompt(prompt, _logits);
        var promptTime = clock.Elapsed;
        clock.Restart();

        var reason = StopReason.TokenLimit;
        // Plain greedy decoding needs no logits on the host: the GPU picks the token. Otherwise each step leaves the
        // GPU's best logits or the row (the first token comes from the prompt's row).
        bool gpuArgmax = UsesGpuArgmax(options);
        var decode = new SampledDecode(_model, options, _logits);
        int next = -1;
        for (int i = 0; i < maxNewTokens; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!gpuArgmax || i == 0)
                next = decode.Choose(sampler, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
            if (stopAtEos && next == _model.Config.EosTokenId)
            {
                reason = StopReason.EndOfSequence;
                break;
            }
            generated.Add(next);
            history.Add(next);
            onToken?.Invoke(next);
            if (i + 1 == maxNewTokens) break;   // no logits needed after the last token
            if (gpuArgmax)
                next = _model.EvaluateGreedy(next);
            else
                decode.Step(next);
        }
        return new Generation(generated, reason, evaluated, promptTime, clock.Elapsed);
    }
}
