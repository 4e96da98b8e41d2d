using System.Text;

namespace Tipo.Expansion;

/// <summary>
/// A user prompt with its A1111 weights taken out: the plain tags / text for the model, and what is needed to put the
/// weights (and <c>BREAK</c>s) back on the same tags and text afterwards (z-tipo-extension's <c>apply_strength</c>).
/// </summary>
public sealed class WeightedPrompt
{
    private readonly Dictionary<string, double> _tagWeights;
    private readonly HashSet<string> _breakAfter;
    private readonly List<(string Text, double Weight)> _textWeights;

    private WeightedPrompt(string plainText, List<string> tags, Dictionary<string, double> tagWeights,
        HashSet<string> breakAfter, List<(string, double)> textWeights)
    {
        PlainText = plainText;
        Tags = tags;
        _tagWeights = tagWeights;
        _breakAfter = breakAfter;
        _textWeights = textWeights;
    }

    /// <summary>The text with weights and BREAKs removed (BREAK becomes a comma).</summary>
    public string PlainText { get; }

    /// <summary>The comma-separated parts of <see cref="PlainText"/>, trimmed, empties dropped, in order.</summary>
    public IReadOnlyList<string> Tags { get; }

    /// <summary>The weight of each tag that was inside a weighted span.</summary>
    public IReadOnlyDictionary<string, double> TagWeights => _tagWeights;

    /// <summary>Tags that a <c>BREAK</c> followed.</summary>
    public IReadOnlySet<string> BreakAfter => _breakAfter;

    /// <summary>Parses a tag prompt or an NL prompt.</summary>
    public static WeightedPrompt Parse(string? prompt)
    {
        var spans = AttentionParser.Parse(prompt ?? "");
        var plain = new StringBuilder();
        var tags = new List<string>();
        var tagWeights = new Dictionary<string, double>(StringComparer.Ordinal);
        var breakAfter = new HashSet<string>(StringComparer.Ordinal);
        var weighted = new List<(string, double)>();
        foreach (AttentionSpan span in spans)
        {
            if (span.IsBreak)
            {
                if (tags.Count > 0)
                {
                    breakAfter.Add(tags[^1]);
                    breakAfter.Add(tags[^1].Replace('_', ' '));
                }
                plain.Append(", ");
                continue;
            }
            plain.Append(span.Text);
            var partTags = span.Text.Split(',').Select(t => t.Trim()).Where(t => t.Length > 0).ToList();
            tags.AddRange(partTags);
            if (span.Weight != 1.0)
            {
                foreach (string tag in partTags)
                {
                    tagWeights[tag] = span.Weight;
                    tagWeights.TryAdd(tag.Replace('_', ' '), span.Weight); // the form the tag lists and the model use
                }
                if (span.Text.Trim().Length > 0)
                    weighted.Add((span.Text.Trim(), span.Weight));
            }
        }
        return new WeightedPrompt(plain.ToString(), tags, tagWeights, breakAfter, weighted);
    }

    /// <summary>Escapes A1111 parentheses: <c>(</c> → <c>\(</c>, <c>)</c> → <c>\)</c>.</summary>
    public static string Escape(string text) => text.Replace("(", "\\(", StringComparison.Ordinal).Replace(")", "\\)", StringComparison.Ordinal);

    /// <summary>
    /// A tag list for output: every tag paren-escaped, user-weighted tags as <c>(tag:w)</c>, and a <c>BREAK</c> element
    /// after each tag the user followed with BREAK.
    /// </summary>
    public List<string> ApplyToTags(IEnumerable<string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var list = new List<string>();
        foreach (string tag in tags)
        {
            string escaped = Escape(tag);
            list.Add(_tagWeights.TryGetValue(tag, out double w) ? $"({escaped}:{AttentionParser.FormatWeight(w)})" : escaped);
            if (_breakAfter.Contains(tag))
                list.Add("BREAK");
        }
        return list;
    }

    /// <summary>
    /// An NL text for output: the user's weighted parts that are still present are re-wrapped as <c>(part:w)</c>, the rest
    /// is paren-escaped. Parts the model dropped are simply not re-weighted (the reference crashes or loses them all).
    /// </summary>
    public string ApplyToText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder();
        int pos = 0;
        foreach (var (part, weight) in _textWeights)
        {
            int at = text.IndexOf(part, pos, StringComparison.Ordinal);
            if (at < 0)
                continue;
            sb.Append(Escape(text[pos..at]));
            sb.Append('(').Append(Escape(part)).Append(':').Append(AttentionParser.FormatWeight(weight)).Append(')');
            pos = at + part.Length;
        }
        sb.Append(Escape(text[pos..]));
        return sb.ToString();
    }
}
