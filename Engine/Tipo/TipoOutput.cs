namespace Tipo.Expansion;

/// <summary>
/// Turns the final tag map into the outputs (spec §7.3–7.4): the user's weights and BREAKs put back, parentheses of
/// tags escaped, then the formatted prompt, the unformatted prompt and the user's own input formatted.
/// </summary>
public static class TipoOutput
{
    /// <summary>Builds the result of a run.</summary>
    public static TipoResult Build(TipoPlan plan, ulong seed, string? model, TagMap tagMap, IReadOnlyList<TipoModelCall> calls)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(tagMap);
        ArgumentNullException.ThrowIfNull(calls);
        return new TipoResult
        {
            Plan = plan,
            Seed = seed,
            Model = model,
            TagMap = tagMap,
            Formatted = Format(plan, tagMap),
            Unformatted = Unformatted(plan, tagMap),
            FormattedUserInput = Format(plan, TipoPipeline.UserTagMap(plan)),
            Calls = calls,
        };
    }

    /// <summary>The tag map with the user's weights applied and tags escaped, in the plan's template.</summary>
    public static string Format(TipoPlan plan, TagMap tagMap)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(tagMap);
        TagMap weighted = ApplyWeights(plan, tagMap);
        string text = PromptFormatter.Format(weighted, plan.Template);
        return text.Replace("BREAK,", "BREAK", StringComparison.Ordinal);
    }

    /// <summary>z-tipo-extension's <c>apply_strength</c> on a copy of <paramref name="tagMap"/>.</summary>
    public static TagMap ApplyWeights(TipoPlan plan, TagMap tagMap)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(tagMap);
        TagMap copy = tagMap.Clone();
        copy.Transform(
            (_, list) => plan.TagWeights.ApplyToTags(list),
            (key, text) => key is TagMap.Extended or TagMap.Generated ? plan.NlWeights.ApplyToText(text) : WeightedPrompt.Escape(text));
        return copy;
    }

    /// <summary>
    /// The user's tag prompt as typed, then every new tag (of any category, escaped), then the new NL text(s) on the next
    /// line. Unlike the reference, an empty <c>extended</c> does not blank a generated text.
    /// </summary>
    public static string Unformatted(TipoPlan plan, TagMap tagMap)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(tagMap);
        var userTags = new HashSet<string>(TagCategory.All.SelectMany(c => plan.Categories[c]), StringComparer.Ordinal);
        var added = PostProcessor.Dedupe(TagCategory.All.SelectMany(c => tagMap.List(c)).Where(t => !userTags.Contains(t)));
        string head = plan.Request.Tags.Trim().TrimEnd(',').TrimEnd();
        var addedText = string.Join(", ", added.Select(WeightedPrompt.Escape));
        string tags = head.Length == 0 ? addedText : addedText.Length == 0 ? head : head + ", " + addedText;
        var texts = PostProcessor.Dedupe(new[] { tagMap.Text(TagMap.Extended), tagMap.Text(TagMap.Generated) }
            .Where(t => t.Length > 0).Select(plan.NlWeights.ApplyToText));
        return texts.Count == 0 ? tags : tags + "\n" + string.Join("\n", texts);
    }
}
