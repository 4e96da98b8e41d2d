using System.Globalization;
using System.Text.Json;
using Tipo.Inference.Sampling;

namespace Tipo.Expansion;

/// <summary>
/// One line of a <c>tipo expand --batch</c> file: a JSON object whose fields mirror the command's flags
/// (<c>tags</c>, <c>nl</c>, <c>width</c>, <c>height</c>, <c>tag_length</c>, <c>nl_length</c>, <c>format</c>, <c>ban</c>,
/// <c>ban_category</c>, <c>seed</c>, <c>temperature</c>, <c>top_p</c>, <c>top_k</c>, <c>min_p</c>, <c>repeat_penalty</c>,
/// <c>max_new_tokens</c>). A field that is absent (or null) takes its value from the defaults (the flags given with
/// <c>--batch</c>). An unknown field is an error, so a typo never silently falls back to a default. An <c>id</c> field (any
/// JSON value) is not part of the request: it is copied into the line's result or error record, to match results across shards.
/// </summary>
internal static class BatchRequestParser
{
    /// <summary>The fields a request line may hold.</summary>
    public static IReadOnlyList<string> Fields { get; } =
    [
        "tags", "nl", "width", "height", "tag_length", "nl_length", "format", "ban", "ban_category", "seed",
        "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_new_tokens",
    ];

    /// <summary>Parses one request line over <paramref name="defaults"/>.</summary>
    /// <exception cref="ArgumentException">Not a JSON object, an unknown field, or a value of the wrong type or out of range.</exception>
    public static TipoRequest Parse(string line, TipoRequest defaults) => Parse(line, defaults, out _);

    /// <summary>Parses one request line over <paramref name="defaults"/>; <paramref name="id"/> is the raw JSON of its <c>id</c> field, if any
    /// (set even when the line turns out invalid, as long as it is a JSON object).</summary>
    /// <exception cref="ArgumentException">Not a JSON object, an unknown field, or a value of the wrong type or out of range.</exception>
    public static TipoRequest Parse(string line, TipoRequest defaults, out string? id)
    {
        id = null;
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(defaults);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ArgumentException($"a request line must be a JSON object, not {Kind(root)}");
            if (root.TryGetProperty("id", out JsonElement idElement))
                id = idElement.GetRawText();
            TipoRequest request = defaults;
            SamplingOptions sampling = defaults.Sampling;
            string? banEntries = null, banCategories = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (!seen.Add(p.Name))
                    throw new ArgumentException($"field '{p.Name}' appears twice");
                JsonElement v = p.Value;
                if (p.Name == "id")
                    continue;
                if (v.ValueKind == JsonValueKind.Null)
                {
                    if (!Fields.Contains(p.Name))
                        throw UnknownField(p.Name);
                    continue;
                }
                switch (p.Name)
                {
                    case "tags": request = request with { Tags = String(p) }; break;
                    case "nl": request = request with { NaturalLanguage = String(p) }; break;
                    case "width": request = request with { Width = Positive(p) }; break;
                    case "height": request = request with { Height = Positive(p) }; break;
                    case "tag_length": request = request with { TagLength = Length(p) }; break;
                    case "nl_length": request = request with { NlLength = Length(p) }; break;
                    case "format":
                        string format = String(p);
                        _ = TipoFormats.Resolve(format);
                        request = request with { Format = format };
                        break;
                    case "ban": banEntries = StringOrList(p); break;
                    case "ban_category": banCategories = StringOrList(p); break;
                    case "seed": request = request with { Seed = Seed(p) }; break;
                    case "temperature": sampling = sampling with { Temperature = Float(p) }; break;
                    case "top_p": sampling = sampling with { TopP = Float(p) }; break;
                    case "top_k": sampling = sampling with { TopK = Int(p) }; break;
                    case "min_p": sampling = sampling with { MinP = Float(p) }; break;
                    case "repeat_penalty": sampling = sampling with { RepeatPenalty = Float(p) }; break;
                    case "max_new_tokens": request = request with { MaxNewTokens = Positive(p) }; break;
                    default: throw UnknownField(p.Name);
                }
            }
            sampling.Validate();
            if (banEntries != null || banCategories != null)
            {
                request = request with
                {
                    Ban = new BanList(banEntries?.Split(',') ?? defaults.Ban.Entries, banCategories?.Split(',') ?? (IEnumerable<string>)defaults.Ban.Categories),
                };
            }
            return request with { Sampling = sampling };
        }
    }

    private static ArgumentException UnknownField(string name) =>
        new($"unknown field '{name}' (expected {string.Join(", ", Fields)})");

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString().ToLowerInvariant(),
    };

    private static string String(JsonProperty p) => p.Value.ValueKind == JsonValueKind.String
        ? p.Value.GetString()!
        : throw new ArgumentException($"'{p.Name}' must be a string, not {Kind(p.Value)}");

    /// <summary>A comma-separated string, or an array of strings (joined with commas).</summary>
    private static string StringOrList(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.String)
            return p.Value.GetString()!;
        if (p.Value.ValueKind == JsonValueKind.Array && p.Value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return string.Join(",", p.Value.EnumerateArray().Select(e => e.GetString()));
        throw new ArgumentException($"'{p.Name}' must be a comma-separated string or an array of strings, not {Kind(p.Value)}");
    }

    private static int Int(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int v)
        ? v
        : throw new ArgumentException($"'{p.Name}' must be an integer, not {(p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetRawText() : Kind(p.Value))}");

    private static int Positive(JsonProperty p)
    {
        int v = Int(p);
        return v > 0 ? v : throw new ArgumentException($"'{p.Name}' must be positive, not {v}");
    }

    private static float Float(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number
        ? (float)p.Value.GetDouble()
        : throw new ArgumentException($"'{p.Name}' must be a number, not {Kind(p.Value)}");

    private static TipoLength Length(JsonProperty p) => TipoLengths.Parse(String(p));

    /// <summary>0 … 2^64-1 as a number or a string; -1 (or null) for random.</summary>
    private static ulong? Seed(JsonProperty p)
    {
        JsonElement v = p.Value;
        string text = v.ValueKind switch
        {
            JsonValueKind.Number => v.GetRawText(),
            JsonValueKind.String => v.GetString()!.Trim(),
            _ => throw new ArgumentException($"'seed' must be an integer, not {Kind(v)}"),
        };
        if (text == "-1")
            return null;
        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed))
            return seed;
        throw new ArgumentException($"'seed' must be an integer 0 … {ulong.MaxValue} or -1 for random (got {text})");
    }
}
