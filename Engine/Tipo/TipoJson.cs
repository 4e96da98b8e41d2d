using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tipo.Expansion;

/// <summary>The <c>--dry-run</c> and <c>--json</c> documents.</summary>
public static class TipoJson
{
    private static readonly JsonWriterOptions s_options = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary><c>{"categories": {non-empty lists}, "operations": [{"task", "length", "expand"}], "first_prompt": …}</c>.</summary>
    public static string DryRun(TipoPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Write(w =>
        {
            w.WriteStartObject();
            WriteCategories(w, "categories", plan.NonEmptyCategories);
            WriteOperations(w, plan.Operations);
            w.WriteString("first_prompt", plan.FirstPrompt);
            w.WriteEndObject();
        });
    }

    /// <summary>The full report of a run.</summary>
    public static string Result(TipoResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        TagMap map = result.TagMap;
        return Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("formatted", result.Formatted);
            w.WriteString("unformatted", result.Unformatted);
            w.WriteString("user_formatted", result.FormattedUserInput);
            WriteCategories(w, "tags", TagCategory.All.Select(c => new KeyValuePair<string, List<string>>(c, map.List(c).ToList())));
            w.WriteStartObject("nl");
            w.WriteString("extended", map.Text(TagMap.Extended));
            if (map.Contains(TagMap.Generated))
                w.WriteString("generated", map.Text(TagMap.Generated));
            w.WriteEndObject();
            w.WriteNumber("seed", result.Seed);
            w.WriteString("model", result.Model);
            WriteOperations(w, result.Plan.Operations);
            w.WriteStartArray("calls");
            foreach (TipoModelCall call in result.Calls)
            {
                w.WriteStartObject();
                w.WriteNumber("operation", call.Operation);
                w.WriteNumber("attempt", call.Attempt);
                w.WriteString("task", call.Task);
                w.WriteNumber("seed", call.Seed);
                w.WriteString("prompt", call.Prompt);
                w.WriteString("completion", call.Completion.Text);
                w.WriteNumber("prompt_tokens", call.Completion.PromptTokens);
                w.WriteNumber("cached_prompt_tokens", call.Completion.CachedPromptTokens);
                w.WriteNumber("completion_tokens", call.Completion.CompletionTokens);
                w.WriteString("stop", call.Completion.StopReason == TipoStopReason.EndOfSequence ? "eos" : "length");
                w.WriteNumber("time_ms", Math.Round(call.Elapsed.TotalMilliseconds, 3));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void WriteCategories(Utf8JsonWriter w, string name, IEnumerable<KeyValuePair<string, List<string>>> categories)
    {
        w.WriteStartObject(name);
        foreach (var (category, tags) in categories)
        {
            w.WriteStartArray(category);
            foreach (string tag in tags)
                w.WriteStringValue(tag);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteOperations(Utf8JsonWriter w, IEnumerable<TipoOperation> operations)
    {
        w.WriteStartArray("operations");
        foreach (TipoOperation op in operations)
        {
            w.WriteStartObject();
            w.WriteString("task", op.Task);
            w.WriteString("length", op.Length.Name());
            w.WriteBoolean("expand", op.Expand);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, s_options))
            body(writer);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
