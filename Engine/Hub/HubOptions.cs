namespace Tipo.Hub;

/// <summary>
/// Where and how to reach the Hugging Face hub, read from the environment the way <c>huggingface_hub</c> reads it:
/// <c>HF_ENDPOINT</c>, <c>HF_TOKEN</c> (else the token file <c>$HF_TOKEN_PATH</c> or <c>$HF_HOME/token</c>),
/// <c>HF_HUB_OFFLINE</c>, and the cache directory (see <see cref="HuggingFaceCache.DefaultRoot"/>).
/// </summary>
public sealed record HubOptions
{
    /// <summary>The hub's public endpoint.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The hub's base URL, without a trailing slash.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;
    /// <summary>The access token sent as <c>Authorization: Bearer</c> to the hub's host only; null for none.</summary>
    public string? Token { get; init; }
    /// <summary>No network at all: only the cache is used.</summary>
    public bool Offline { get; init; }
    /// <summary>The hub cache directory (<c>…/huggingface/hub</c>).</summary>
    public string CacheDir { get; init; } = HuggingFaceCache.DefaultRoot();
    /// <summary>How many times one file's transfer is tried (resuming each time) before giving up.</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>Pause before a retry; doubled each time.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Time allowed for a response's headers, and for each read of the body.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The options the environment asks for.</summary>
    public static HubOptions FromEnvironment()
    {
        string endpoint = Env("HF_ENDPOINT") ?? DefaultEndpoint;
        return new HubOptions
        {
            Endpoint = endpoint.TrimEnd('/'),
            Token = ReadToken(),
            Offline = IsTrue(Env("HF_HUB_OFFLINE")) || IsTrue(Env("TRANSFORMERS_OFFLINE")),
            CacheDir = HuggingFaceCache.DefaultRoot(),
        };
    }

    /// <summary><c>huggingface_hub</c>'s truthy values: 1, ON, YES, TRUE (any case).</summary>
    internal static bool IsTrue(string? value) =>
        value != null && value.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    internal static string? Env(string name)
    {
        string? v = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
    }

    private static string? ReadToken()
    {
        string? token = Env("HF_TOKEN") ?? Env("HUGGING_FACE_HUB_TOKEN");
        if (token != null)
            return token;
        string path = Env("HF_TOKEN_PATH") ?? Path.Combine(HuggingFaceCache.HfHome(), "token");
        try
        {
            if (File.Exists(path))
            {
                string t = File.ReadAllText(path).Trim();
                return t.Length > 0 ? t : null;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
