using System.CommandLine;
using Tipo.Inference;

namespace Tipo.Cli;

/// <summary>Options shared by the commands that load a model.</summary>
internal static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model: a GGUF file or a Hugging Face model directory.",
        Required = true,
    };

    public static Option<string?> Device() => new("--device")
    {
        Description = "Vulkan device: index or name substring (default: TIPO_DEVICE, then the best device).",
    };

    public static Option<string> KvCache() => new("--kv")
    {
        Description = "KV cache type: f32 or f16.",
        DefaultValueFactory = _ => "f16",
    };

    public static Option<int> Context() => new("--ctx", "-c")
    {
        Description = "Context length to allocate (0: the model's maximum).",
        DefaultValueFactory = _ => 0,
    };

    public static KvCacheType ParseKv(string value) => value.ToLowerInvariant() switch
    {
        "f32" => KvCacheType.F32,
        "f16" => KvCacheType.F16,
        _ => throw new UsageException($"--kv must be f32 or f16, not '{value}'"),
    };
}
