using Tipo.Inference.Sampling;

namespace Tipo.Expansion;

/// <summary>One prompt-expansion request.</summary>
public sealed record TipoRequest
{
    /// <summary>The tag prompt (comma-separated, A1111 attention syntax allowed).</summary>
    public string Tags { get; init; } = "";
    /// <summary>The natural-language prompt (A1111 attention syntax allowed).</summary>
    public string NaturalLanguage { get; init; } = "";
    public int Width { get; init; } = 1024;
    public int Height { get; init; } = 1024;
    public TipoLength TagLength { get; init; } = TipoLength.Long;
    public TipoLength NlLength { get; init; } = TipoLength.Long;
    /// <summary>A format name (<see cref="TipoFormats"/>) or a custom template; null for the default.</summary>
    public string? Format { get; init; }
    /// <summary>Bans for new tags and NL sentences.</summary>
    public BanList Ban { get; init; } = BanList.Empty;
    /// <summary>The master seed; null picks a random one (reported in the result).</summary>
    public ulong? Seed { get; init; }
    /// <summary>Sampler settings; TIPO's defaults unless set.</summary>
    public SamplingOptions Sampling { get; init; } = TipoDefaults.Sampling;
    /// <summary>New tokens per model call.</summary>
    public int MaxNewTokens { get; init; } = TipoDefaults.MaxNewTokens;
}
