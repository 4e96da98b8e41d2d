using System.Text;

namespace Tipo.Expansion;

/// <summary>
/// KGen's <c>apply_tipo_prompt</c>: the text after BOS for one model call. Meta lines (non-empty only, in the given
/// order), then <c>target: &lt;|length|&gt; &lt;|task|&gt;</c>, then the task's content fields in task order.
/// </summary>
public static class PromptBuilder
{
    /// <summary>Builds the prompt.</summary>
    /// <param name="meta">Ordered meta lines (<c>meta</c>, <c>rating</c>, <c>artist</c>, <c>characters</c>, <c>copyrights</c>, <c>quality</c>, <c>aspect_ratio</c>); empty values are skipped.</param>
    /// <param name="general">The tag line (special tags first), <c>", "</c>-joined.</param>
    /// <param name="nlPrompt">The NL text; goes to <c>long:</c> unless the task mentions <c>short</c>.</param>
    /// <param name="operation">Task, length and expand flag.</param>
    /// <param name="genMeta">Adds <c>&lt;|gen_meta|&gt;</c> to the target line.</param>
    public static string Build(IReadOnlyList<KeyValuePair<string, string>> meta, string general, string nlPrompt,
        TipoOperation operation, bool genMeta = false)
    {
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(operation);
        general ??= "";
        nlPrompt ??= "";
        string? mode = operation.Task;
        var content = new Dictionary<string, string>(StringComparer.Ordinal) { ["tag"] = general };
        if (nlPrompt.Length > 0 && (mode is null || !mode.Contains("short", StringComparison.Ordinal)))
            content["long"] = nlPrompt;
        else if (nlPrompt.Length > 0)
            content["short"] = nlPrompt;

        var prompt = new StringBuilder();
        foreach (var (key, value) in meta)
        {
            if (!string.IsNullOrEmpty(value))
                prompt.Append(key).Append(": ").Append(value).Append('\n');
        }
        string target = "<|" + operation.Length.Name() + "|>";
        string[] order;
        if (mode is not null)
        {
            order = mode.Split("_to_");
            target += " <|" + mode + "|>";
        }
        else
        {
            order = ["tag"];
        }
        if (genMeta)
            target += " <|gen_meta|>";
        prompt.Append("target: ").Append(target.Trim()).Append('\n');
        for (int i = 0; i < order.Length; i++)
        {
            string key = order[i];
            if (content.TryGetValue(key, out string? value) && value.Trim().Length > 0)
                prompt.Append(key).Append(": ").Append(value).Append('\n');
            else if (i < order.Length - 1)
                prompt.Append(key).Append(": \n");
        }
        return operation.Expand
            ? prompt.ToString().Trim()
            : prompt.Append(order[^1]).Append(':').ToString();
    }
}
