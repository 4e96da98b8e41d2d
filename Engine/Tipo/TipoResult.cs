namespace Tipo.Expansion;

/// <summary>The outcome of one request.</summary>
public sealed class TipoResult
{
    public required TipoPlan Plan { get; init; }
    /// <summary>The master seed the request ran with (the given one, or the random one picked).</summary>
    public required ulong Seed { get; init; }
    /// <summary>The model's name; null for a dry run.</summary>
    public string? Model { get; init; }
    /// <summary>The last operation's post-processed tag map, weights and escapes not yet applied.</summary>
    public required TagMap TagMap { get; init; }
    /// <summary>The final prompt in the requested format, with the user's weights restored.</summary>
    public required string Formatted { get; init; }
    /// <summary>The user's tag prompt, then the new tags, then the new NL text (spec §7.4).</summary>
    public required string Unformatted { get; init; }
    /// <summary>The user's own input in the requested format (z-tipo-extension's "user_prompt").</summary>
    public required string FormattedUserInput { get; init; }
    /// <summary>Every model call in order.</summary>
    public required IReadOnlyList<TipoModelCall> Calls { get; init; }
}
