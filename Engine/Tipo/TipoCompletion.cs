namespace Tipo.Expansion;

/// <summary>Why a model call stopped.</summary>
public enum TipoStopReason
{
    /// <summary>The model emitted EOS.</summary>
    EndOfSequence,
    /// <summary>The new-token limit was reached.</summary>
    Length,
}

/// <summary>What one model call returns.</summary>
/// <param name="Text">The decoded completion (after the prompt), without BOS/EOS.</param>
/// <param name="PromptTokens">Tokens in the prompt, BOS included.</param>
/// <param name="CompletionTokens">Tokens generated (EOS included when it stopped generation).</param>
/// <param name="StopReason">Why generation stopped.</param>
/// <param name="CachedPromptTokens">Prompt tokens reused from the previous call's KV cache (0 when none).</param>
public sealed record TipoCompletion(string Text, int PromptTokens, int CompletionTokens, TipoStopReason StopReason,
    int CachedPromptTokens = 0);

/// <summary>One model call of a request, for the report.</summary>
/// <param name="Operation">Index of the operation in the plan.</param>
/// <param name="Attempt">0 for the first call of the operation, 1.. for retries.</param>
/// <param name="Task">The operation's task, or null for tag-only.</param>
/// <param name="Seed">The sampler seed of the call.</param>
/// <param name="Prompt">The prompt (text after BOS).</param>
/// <param name="Completion">What the model returned.</param>
/// <param name="Elapsed">Wall time of the call.</param>
public sealed record TipoModelCall(int Operation, int Attempt, string? Task, ulong Seed, string Prompt,
    TipoCompletion Completion, TimeSpan Elapsed);
