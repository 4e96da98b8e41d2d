using Tipo.Expansion;
using Tipo.Inference.Sampling;

namespace Tipo.Tests.Expansion;

/// <summary>A canned <see cref="ITipoLanguageModel"/>: a function of (prompt, seed) gives the completion; calls are recorded.</summary>
internal sealed class FakeLanguageModel : ITipoLanguageModel
{
    private readonly Func<string, ulong, int, string> _complete;

    public FakeLanguageModel(Func<string, ulong, int, string> complete) => _complete = complete;

    /// <summary>Returns the given completions in turn (the last one repeats).</summary>
    public static FakeLanguageModel Sequence(params string[] completions) =>
        new((_, _, n) => completions[Math.Min(n, completions.Length - 1)]);

    public string Name => "fake";

    public List<(string Prompt, ulong Seed, SamplingOptions Options, int MaxNewTokens)> Calls { get; } = [];

    public TipoCompletion Complete(string prompt, SamplingOptions options, ulong seed, int maxNewTokens, CancellationToken cancellationToken = default)
    {
        string text = _complete(prompt, seed, Calls.Count);
        Calls.Add((prompt, seed, options, maxNewTokens));
        return new TipoCompletion(text, prompt.Length / 4 + 1, text.Length / 4 + 1, TipoStopReason.EndOfSequence);
    }

    public void Dispose()
    {
    }
}
