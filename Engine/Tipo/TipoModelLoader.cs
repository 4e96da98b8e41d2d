using Tipo.Errors;

namespace Tipo.Expansion;

/// <summary>
/// The single hook that turns a model path (and optional device selector) into an <see cref="ITipoLanguageModel"/>.
/// The GPU engine sets <see cref="Factory"/>; until it does, <see cref="Load"/> throws.
/// </summary>
public static class TipoModelLoader
{
    /// <summary>Creates a model from a GGUF path and an optional <c>--device</c> selector. Set by the engine.</summary>
    public static Func<string, string?, ITipoLanguageModel>? Factory { get; set; }

    /// <summary>The message shown when no model was given.</summary>
    public const string ModelNeededMessage =
        "tipo expand needs a TIPO model: pass --model PATH to a TIPO GGUF file, for example TIPO-200M-ft2-F16.gguf from "
        + "https://huggingface.co/KBlueLeaf/TIPO-200M-ft2 or TIPO-500M-ft-F16.gguf from https://huggingface.co/KBlueLeaf/TIPO-500M-ft "
        + "(download the .gguf file from the repository's \"Files\" tab). Use --dry-run to see the plan without a model.";

    /// <summary>Loads the model at <paramref name="modelPath"/> through <see cref="Factory"/>.</summary>
    public static ITipoLanguageModel Load(string modelPath, string? device)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"model file not found: {modelPath}", modelPath);
        Func<string, string?, ITipoLanguageModel> factory = Factory
            ?? throw new UnsupportedFeatureException("GPU model not wired yet: the TIPO pipeline has no model loader (TipoModelLoader.Factory is unset)");
        return factory(modelPath, device);
    }
}
