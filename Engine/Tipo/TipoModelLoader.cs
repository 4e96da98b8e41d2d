using Tipo.Inference;

namespace Tipo.Expansion;

/// <summary>Turns a model path (and optional device selector) into the <see cref="ITipoLanguageModel"/> the pipeline calls.</summary>
public static class TipoModelLoader
{
    /// <summary>The message shown when no model was given.</summary>
    public const string ModelNeededMessage =
        "tipo expand needs a TIPO model: pass --model PATH to a TIPO GGUF file or Hugging Face model directory, for example "
        + "TIPO-200M-ft2-F16.gguf from https://huggingface.co/KBlueLeaf/TIPO-200M-ft2 or TIPO-500M-ft-F16.gguf from "
        + "https://huggingface.co/KBlueLeaf/TIPO-500M-ft (or fetch one with 'tipo download'). Use --dry-run to see the plan without a model.";

    /// <summary>Loads the model at <paramref name="modelPath"/> (GGUF file or HF directory) on the selected device.</summary>
    public static ITipoLanguageModel Load(string modelPath, string? device, KvCacheType kvCacheType = KvCacheType.F16)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        if (!File.Exists(modelPath) && !Directory.Exists(modelPath))
            throw new FileNotFoundException($"model not found: {modelPath}", modelPath);
        // TIPO prompts plus 512 new tokens fit comfortably in 2048, the models' training context.
        var model = LlamaModel.Load(modelPath, new InferenceOptions { Device = device, KvCacheType = kvCacheType });
        return new LlamaLanguageModel(model);
    }
}
