namespace Tipo.Expansion;

/// <summary>
/// KGen's <c>post_generate_process</c> (spec §6.2), with the reference's bugs fixed:
/// <list type="bullet">
/// <item>new general tags beyond the maximum are cut to <c>TARGET_TIPO_MAX − input tags</c> (the reference uses the
/// sentence maximum, keeping e.g. 6 of 57 tags for <c>long</c>);</item>
/// <item>the ban list (and <c>--ban-category</c>) filters new tags of every category, not only general ones; the
/// tags of the current input (the user's own and those already accepted) are never filtered;</item>
/// <item>a <c>generated</c> text whose every sentence was filtered is removed instead of being kept unfiltered;</item>
/// <item>other categories are de-duplicated like general.</item>
/// </list>
/// </summary>
public static class PostProcessor
{
    /// <summary>Post-processes <paramref name="parsed"/> in place and returns it.</summary>
    /// <param name="parsed">The parse of prompt + completion.</param>
    /// <param name="meta">The call's meta lines; their values count as input tags.</param>
    /// <param name="general">The call's tag line.</param>
    /// <param name="nlPrompt">The call's NL text.</param>
    /// <param name="operation">The call's operation.</param>
    /// <param name="ban">Bans for new tags and sentences.</param>
    /// <param name="random">Shuffles new tags and NL sentences.</param>
    public static TagMap Process(TagMap parsed, IReadOnlyList<KeyValuePair<string, string>> meta, string general,
        string nlPrompt, TipoOperation operation, BanList ban, TipoRandom random)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(ban);
        ArgumentNullException.ThrowIfNull(random);
        general ??= "";
        nlPrompt ??= "";
        string? mode = operation.Task;
        if (mode is null)
        {
            parsed.Remove(TagMap.Extended);
            parsed.Remove(TagMap.Generated);
        }
        else
        {
            if (!mode.Contains("long", StringComparison.Ordinal))
                parsed.Remove(TagMap.Generated);
            if (!mode.Contains("short", StringComparison.Ordinal))
                parsed.Remove(TagMap.Extended);
        }
        if (parsed.Contains(TagMap.Generated) && nlPrompt.Length > 0 && parsed.Text(TagMap.Extended).Trim().Length == 0)
        {
            string moved = parsed.Text(TagMap.Generated);
            parsed.Remove(TagMap.Generated);
            parsed.SetText(TagMap.Extended, moved);
        }

        var inputTags = new HashSet<string>(general.Split(',').Select(t => t.Trim()), StringComparer.Ordinal);
        var protectedTags = new HashSet<string>(inputTags, StringComparer.Ordinal);
        foreach (var (_, value) in meta)
            protectedTags.UnionWith(ResultParser.SplitTags(value ?? ""));
        var inputPrompts = SplitSentences(nlPrompt);

        var generals = parsed.List(TagCategory.General);
        // The user's tags are kept, first and in their order, even when the parse lost one: with no separator
        // after the prompt, the model's first token can glue onto the last input tag ("long hair" -> "long hairxyz").
        // KGen keeps only input tags it finds again in the parse; a tag found in another category stays there.
        var otherCategories = new HashSet<string>(TagCategory.All.Where(c => c != TagCategory.General)
            .SelectMany(parsed.List), StringComparer.Ordinal);
        var inputGenerals = general.Split(',').Select(t => t.Trim())
            .Where(t => t.Length > 0 && (generals.Contains(t) || !otherCategories.Contains(t))).Distinct().ToList();
        var outputGenerals = generals.Where(t => !inputTags.Contains(t) && !ban.IsBanned(t, TagCategory.General)).ToList();
        random.Shuffle(outputGenerals);

        var outputNl = SplitSentences(parsed.Text(TagMap.Extended))
            .Where(s => !ban.IsBanned(s) && !inputPrompts.Contains(s)).ToList();
        if (outputNl.Count > 0 && inputPrompts.Count > 0 && outputNl[0].Contains(inputPrompts[^1], StringComparison.Ordinal))
        {
            inputPrompts[^1] = outputNl[0]; // the model continued the user's last sentence
            outputNl.RemoveAt(0);
        }
        if (outputNl.Count > 0)
        {
            var head = outputNl.GetRange(0, outputNl.Count - 1);
            random.Shuffle(head);
            head.Add(outputNl[^1]);
            outputNl = head;
        }

        int maxTags = operation.Length.MaxTags();
        int maxNl = operation.Length.MaxSentences();
        if (inputGenerals.Count + outputGenerals.Count > maxTags)
            outputGenerals = outputGenerals.Take(Math.Max(maxTags - inputGenerals.Count, 0)).ToList();
        if (inputPrompts.Count + outputNl.Count > maxNl)
            outputNl = outputNl.Take(Math.Max(maxNl - inputPrompts.Count, 0)).ToList();

        if (parsed.Contains(TagMap.Generated))
        {
            var generatedNl = SplitSentences(parsed.Text(TagMap.Generated))
                .Where(s => !ban.IsBanned(s) && !inputPrompts.Contains(s)).Take(maxNl).ToList();
            if (generatedNl.Count > 0)
                parsed.SetText(TagMap.Generated, string.Join(". ", Dedupe(generatedNl)));
            else
                parsed.Remove(TagMap.Generated);
        }

        parsed.SetList(TagCategory.General, Dedupe(inputGenerals.Concat(outputGenerals)));
        parsed.SetText(TagMap.Extended, string.Join(". ", Dedupe(inputPrompts.Concat(outputNl))));
        foreach (string category in TagCategory.All)
        {
            if (category == TagCategory.General || !parsed.Contains(category) || parsed.IsText(category))
                continue;
            var kept = parsed.List(category).Where(t => protectedTags.Contains(t) || !ban.IsBanned(t, category));
            parsed.SetList(category, Dedupe(kept));
        }
        return parsed;
    }

    /// <summary>Splits on '.', trims, drops empties (KGen's naive sentence split).</summary>
    public static List<string> SplitSentences(string text) =>
        (text ?? "").Split('.').Select(s => s.Trim()).Where(s => s.Length > 0).ToList();

    /// <summary>Order-preserving de-duplication.</summary>
    public static List<string> Dedupe(IEnumerable<string> items)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return items.Where(seen.Add).ToList();
    }
}
