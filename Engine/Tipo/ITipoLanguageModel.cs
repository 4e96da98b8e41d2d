using Tipo.Inference.Sampling;

namespace Tipo.Expansion;

/// <summary>
/// The language model the TIPO pipeline calls, once per model call (the boundary between the pipeline and the engine).
/// The contract mirrors what KGen gets from llama-cpp-python's <c>create_completion</c>:
/// <list type="bullet">
/// <item><b>Input</b>: <c>prompt</c> is the text after BOS. The implementation prepends BOS (id 1) and tokenizes the
/// prompt with special tokens parsed (the 13 added tokens <c>&lt;|empty|&gt;</c> … <c>&lt;|gen_meta|&gt;</c> become their
/// single ids 32000–32012), as <c>tokenize(prompt, add_bos=True, special=True)</c> does. No EOS is appended. The
/// prompt normally ends without a newline (the model continues the last field) or in <c>"key:"</c>.</item>
/// <item><b>Sampling</b>: llama.cpp's order with the options (repetition penalty over the last
/// <see cref="SamplingOptions.RepeatLastN"/> tokens, top-k, top-p, min-p, temperature, draw) from an RNG seeded
/// with <c>seed</c>; stop at EOS (id 2) or after <c>maxNewTokens</c> tokens. No stop strings.</item>
/// <item><b>Output</b>: <see cref="TipoCompletion.Text"/> is the decoded completion only (not the prompt), without the EOS
/// token and without BOS; any other special or added token is rendered as its literal text (<c>&lt;|long|&gt;</c>).
/// The pipeline concatenates prompt + completion and parses the whole (spec §6.1).</item>
/// <item><b>Determinism</b>: the same prompt, options, seed and limit must give the same text on the same model and
/// device.</item>
/// <item><b>Prefix reuse</b>: successive calls of one request share long prompt prefixes (all calls share the meta
/// lines; a retry shares its whole prompt with the previous one, or all but the grown tag list). Implementations should
/// keep the KV cache of the previous call and re-evaluate only the tokens after the longest common token prefix,
/// reporting that count in <see cref="TipoCompletion.CachedPromptTokens"/>. The result must not depend on it.</item>
/// </list>
/// </summary>
public interface ITipoLanguageModel : IDisposable
{
    /// <summary>A display name of the model (its file name, say), reported in <c>--json</c>.</summary>
    string Name { get; }

    /// <summary>Samples a completion of <paramref name="prompt"/>; see the interface documentation for the contract.</summary>
    /// <param name="prompt">The text after BOS; special tokens are parsed.</param>
    /// <param name="options">The sampler settings.</param>
    /// <param name="seed">The sampler RNG seed of this call.</param>
    /// <param name="maxNewTokens">The most tokens to generate (512 in TIPO).</param>
    /// <param name="cancellationToken">Cancels between tokens.</param>
    TipoCompletion Complete(string prompt, SamplingOptions options, ulong seed, int maxNewTokens,
        CancellationToken cancellationToken = default);
}
