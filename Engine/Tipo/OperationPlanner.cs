namespace Tipo.Expansion;

/// <summary>KGen's <c>parse_tipo_request</c> operation planning (spec §4.2).</summary>
public static class OperationPlanner
{
    /// <summary>
    /// Whether the format asks for an extra NL operation: no NL prompt and <c>&lt;|extended|&gt;</c> in the format, or
    /// <c>&lt;|generated|&gt;</c> in the format.
    /// </summary>
    public static bool WantsExtraNl(string format, bool hasNl)
    {
        ArgumentNullException.ThrowIfNull(format);
        return (!hasNl && format.Contains("<|extended|>", StringComparison.Ordinal))
               || format.Contains("<|generated|>", StringComparison.Ordinal);
    }

    /// <summary>Plans the operations.</summary>
    public static List<TipoOperation> Plan(bool hasTags, bool hasNl, TipoLength tagLength, TipoLength nlLength,
        bool generateExtraNl, bool expandTags = true, bool expandPrompt = true, bool tagFirst = true)
    {
        var ops = new List<TipoOperation>();
        TipoOperation? extra;
        if (!hasTags && !hasNl)
        {
            ops.Add(new(null, tagLength, true));
            extra = new("tag_to_long", nlLength, true);
        }
        else if (!hasNl)
        {
            if (expandTags)
                ops.Add(new(null, tagLength, true));
            extra = new("tag_to_long", nlLength, false);
        }
        else if (!hasTags)
        {
            ops.Add(new("long_to_tag", tagLength, expandPrompt));
            extra = new("short_to_tag_to_long", nlLength, false);
        }
        else if (!expandTags && !expandPrompt)
        {
            extra = new("short_to_tag_to_long", nlLength, false);
        }
        else if (expandTags && !expandPrompt)
        {
            ops.Add(new("short_to_tag", tagLength, true));
            ops.Add(new("short_to_tag_to_long", nlLength, false));
            extra = new("short_to_tag_to_long", nlLength, false);
        }
        else if (!expandTags)
        {
            ops.Add(new("tag_to_long", tagLength, true));
            ops.Add(new("tag_to_short_to_long", nlLength, false));
            extra = new("tag_to_short_to_long", nlLength, false);
        }
        else if (tagFirst)
        {
            ops.Add(new("short_to_tag", tagLength, true));
            ops.Add(new("tag_to_long", nlLength, true));
            extra = new("short_to_tag_to_long", nlLength, false);
        }
        else
        {
            ops.Add(new("tag_to_long", nlLength, true));
            ops.Add(new("long_to_tag", tagLength, true));
            extra = new("tag_to_short_to_long", nlLength, false);
        }
        if (generateExtraNl)
            ops.Add(extra);
        return ops;
    }
}
