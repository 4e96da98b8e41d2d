namespace Tipo.Inference.Sampling;

/// <summary>
/// How the next token is chosen from the logits. Applied in llama.cpp's order: repetition penalty over the
/// last <see cref="RepeatLastN"/> tokens, top-k, top-p, min-p, temperature, then a draw from the seeded RNG.
/// <see cref="Temperature"/> &lt;= 0 means greedy (argmax).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 or less is greedy decoding.</summary>
    public float Temperature { get; init; } = 0.8f;
    /// <summary>Keep the k most likely tokens; 0 or less disables.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Keep the smallest set of tokens whose probability sum reaches p; 1 disables.</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Drop tokens whose probability is below min-p times the top token's; 0 disables.</summary>
    public float MinP { get; init; } = 0.05f;
    /// <summary>Repetition penalty (llama.cpp's: logits &gt; 0 divided, &lt; 0 multiplied); 1 disables.</summary>
    public float RepeatPenalty { get; init; } = 1.0f;
    /// <summary>How many of the most recent tokens the repetition penalty looks at; 0 disables, -1 means the whole history.</summary>
    public int RepeatLastN { get; init; } = 64;

    /// <summary>Greedy decoding: always the most likely token.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f, TopK = 0, TopP = 1f, MinP = 0f, RepeatPenalty = 1f };

    /// <summary>True when sampling reduces to argmax.</summary>
    public bool IsGreedy => Temperature <= 0f;

    /// <summary>
    /// Checks every parameter and throws an <see cref="ArgumentException"/> naming the first invalid one:
    /// <see cref="Temperature"/> finite; <see cref="TopP"/> and <see cref="MinP"/> in [0, 1];
    /// <see cref="RepeatPenalty"/> finite and &gt; 0; <see cref="RepeatLastN"/> &gt;= -1. <see cref="TopK"/> accepts any value.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter is out of range or NaN.</exception>
    public void Validate()
    {
        if (!float.IsFinite(Temperature))
            throw new ArgumentException($"Temperature must be a finite number (<= 0 means greedy); got {Temperature}.", nameof(Temperature));
        if (!(TopP >= 0f && TopP <= 1f))
            throw new ArgumentException($"TopP must be in [0, 1] (1 disables); got {TopP}.", nameof(TopP));
        if (!(MinP >= 0f && MinP <= 1f))
            throw new ArgumentException($"MinP must be in [0, 1] (0 disables); got {MinP}.", nameof(MinP));
        if (!(float.IsFinite(RepeatPenalty) && RepeatPenalty > 0f))
            throw new ArgumentException($"RepeatPenalty must be a finite number > 0 (1 disables); got {RepeatPenalty}.", nameof(RepeatPenalty));
        if (RepeatLastN < -1)
            throw new ArgumentException($"RepeatLastN must be >= -1 (0 disables, -1 = whole history); got {RepeatLastN}.", nameof(RepeatLastN));
    }
}
