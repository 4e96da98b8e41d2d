namespace Tipo.Expansion;

/// <summary>
/// A request prepared for the model: the user's tags by category, the meta lines, the tag line and NL text of the
/// first call, the planned operations, and the user's weights to restore afterwards (spec §4.1, §4.2).
/// </summary>
public sealed class TipoPlan
{
    private TipoPlan(TipoRequest request, string template, WeightedPrompt tags, WeightedPrompt nl,
        Dictionary<string, List<string>> categories, List<KeyValuePair<string, string>> meta, string general,
        string nlPrompt, List<TipoOperation> operations)
    {
        Request = request;
        Template = template;
        TagWeights = tags;
        NlWeights = nl;
        Categories = categories;
        Meta = meta;
        General = general;
        NlPrompt = nlPrompt;
        Operations = operations;
    }

    public TipoRequest Request { get; }
    /// <summary>The resolved output template.</summary>
    public string Template { get; }
    /// <summary>The tag prompt's weights and BREAKs.</summary>
    public WeightedPrompt TagWeights { get; }
    /// <summary>The NL prompt's weights.</summary>
    public WeightedPrompt NlWeights { get; }
    /// <summary>The user's tags by category: all eight categories in match order, possibly empty.</summary>
    public IReadOnlyDictionary<string, List<string>> Categories { get; }
    /// <summary>Meta lines in prompt order: meta, rating, artist, characters, copyrights, quality, aspect_ratio.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Meta { get; }
    /// <summary>The first call's tag line: special tags, then general tags.</summary>
    public string General { get; }
    /// <summary>The first call's NL text (weights stripped, trimmed).</summary>
    public string NlPrompt { get; }
    public IReadOnlyList<TipoOperation> Operations { get; }

    /// <summary>The prompt of the first model call, or null when nothing is planned.</summary>
    public string? FirstPrompt => Operations.Count == 0 ? null : PromptBuilder.Build(Meta, General, NlPrompt, Operations[0]);

    /// <summary>The categories that hold tags, in match order.</summary>
    public IEnumerable<KeyValuePair<string, List<string>>> NonEmptyCategories =>
        TagCategory.All.Where(c => Categories[c].Count > 0).Select(c => new KeyValuePair<string, List<string>>(c, Categories[c]));

    /// <summary>Prepares <paramref name="request"/> with <paramref name="tagLists"/>.</summary>
    public static TipoPlan Create(TipoRequest request, TagLists tagLists)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(tagLists);
        string template = TipoFormats.Resolve(request.Format);
        var tags = WeightedPrompt.Parse(request.Tags);
        var nl = WeightedPrompt.Parse(request.NaturalLanguage);
        string nlPrompt = nl.PlainText.Trim();
        var categories = tagLists.Separate(tags.Tags);

        string Join(string category) => string.Join(", ", categories[category]);
        var meta = new List<KeyValuePair<string, string>>
        {
            new(TagCategory.Meta, Join(TagCategory.Meta)),
            new(TagCategory.Rating, Join(TagCategory.Rating)),
            new(TagCategory.Artist, Join(TagCategory.Artist)),
            new(TagCategory.Characters, Join(TagCategory.Characters)),
            new(TagCategory.Copyrights, Join(TagCategory.Copyrights)),
            new(TagCategory.Quality, Join(TagCategory.Quality)),
            new("aspect_ratio", AspectRatio.Format(request.Width, request.Height)),
        };
        string general = string.Join(", ", categories[TagCategory.Special].Concat(categories[TagCategory.General]));
        bool hasTags = general.Length > 0;
        bool hasNl = nlPrompt.Length > 0;
        var operations = OperationPlanner.Plan(hasTags, hasNl, request.TagLength, request.NlLength,
            OperationPlanner.WantsExtraNl(template, hasNl));
        return new TipoPlan(request, template, tags, nl, categories, meta, general, nlPrompt, operations);
    }
}
