using Tipo.Inference;
using Tipo.Inference.Sampling;

namespace Tipo.Expansion;

/// <summary>
/// The TIPO pipeline's model on Tipo's own engine: tokenizes with BOS and special tokens parsed, samples with
/// the <see cref="Generator"/>, and keeps the KV cache between calls so a call that shares a prompt prefix
/// with the previous one evaluates only its new tokens.
/// </summary>
public sealed class LlamaLanguageModel : ITipoLanguageModel
{
    private readonly LlamaModel _model;
    private readonly Generator _generator;

    public LlamaLanguageModel(LlamaModel model)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _generator = new Generator(model);
        Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(model.ModelPath));
    }

    public string Name { get; }

    /// <summary>The engine underneath (device, config, timing).</summary>
    public LlamaModel Model => _model;

    public TipoCompletion Complete(string prompt, SamplingOptions options, ulong seed, int maxNewTokens,
        CancellationToken cancellationToken = default)
    {
        var tokenizer = _model.Tokenizer;
        var ids = tokenizer.Encode(prompt, addBos: true, parseSpecial: true);
        // Fit the request into the context the way a llama.cpp user would expect: fewer new tokens, never a silent truncation of the prompt.
        int budget = Math.Min(maxNewTokens, _model.ContextLength - ids.Count);
        if (budget <= 0)
            throw new Errors.ContextOverflowException($"the TIPO prompt has {ids.Count} tokens; the context holds {_model.ContextLength}");
        var result = _generator.Generate(ids, budget, options, seed, stopAtEos: true, cancellationToken: cancellationToken);
        // Decoded as a continuation of the prompt (a leading "▁" is a real space here), as llama-cpp-python does.
        var decoder = tokenizer.CreateStreamingDecoder(skipSpecial: false, atTextStart: false);
        var text = new System.Text.StringBuilder();
        foreach (int id in result.Tokens) text.Append(decoder.Append(id));
        text.Append(decoder.Flush());
        int cached = ids.Count - result.PromptTokensEvaluated;
        return new TipoCompletion(text.ToString(), ids.Count,
            result.Tokens.Count + (result.StopReason == StopReason.EndOfSequence ? 1 : 0),
            result.StopReason == StopReason.EndOfSequence ? TipoStopReason.EndOfSequence : TipoStopReason.Length,
            cached);
    }

    public void Dispose() => _model.Dispose();
}
