using Tipo.Inference.Sampling;

namespace Tipo.Expansion;

/// <summary>TIPO's constants: sampling defaults, call limits and KGen's fixed tag sets (<c>metainfo.py</c>).</summary>
public static class TipoDefaults
{
    /// <summary>
    /// TIPO's sampling defaults (z-tipo-extension's UI defaults on the llama.cpp path): temperature 0.5, top-p 0.95,
    /// top-k 80, min-p 0.05, repetition penalty 1.17 over the last 64 tokens.
    /// </summary>
    public static SamplingOptions Sampling { get; } = new()
    {
        Temperature = 0.5f,
        TopP = 0.95f,
        TopK = 80,
        MinP = 0.05f,
        RepeatPenalty = 1.17f,
        RepeatLastN = 64,
    };

    /// <summary>New tokens per model call (KGen <c>generate_with_retry</c>).</summary>
    public const int MaxNewTokens = 512;

    /// <summary>Retries per operation after the first call (so at most 11 calls).</summary>
    public const int MaxRetry = 10;

    /// <summary>An operation stops retrying after this many repeats of an already seen result.</summary>
    public const int MaxSameOutput = 5;

    /// <summary>KGen's SPECIAL tags (subject counts); always first in the tag line.</summary>
    public static IReadOnlyList<string> Special { get; } =
    [
        "1girl", "2girls", "3girls", "4girls", "5girls", "6+girls", "multiple girls",
        "1boy", "2boys", "3boys", "4boys", "5boys", "6+boys", "multiple boys", "male focus",
        "1other", "2others", "3others", "4others", "5others", "6+others", "multiple others",
    ];

    /// <summary>KGen's POSSIBLE_QUALITY_TAGS (the year-period tags count as quality).</summary>
    public static IReadOnlyList<string> Quality { get; } =
    [
        "masterpiece", "best quality", "great quality", "good quality", "normal quality",
        "low quality", "worse quality", "very aesthetic", "aesthetic", "displeasing", "very displeasing",
        "newest", "recent", "mid", "early", "old", "score_9", "score_8_up", "score_7_up", "score_6_up",
        "score_5_up", "score_4_up", "source_anime", "source_cartoon", "source_furry", "source_pony",
    ];

    /// <summary>KGen's RATING_TAGS.</summary>
    public static IReadOnlyList<string> Rating { get; } = ["safe", "general", "sfw", "sensitive", "nsfw", "explicit"];
}
