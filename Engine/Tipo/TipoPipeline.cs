using System.Diagnostics;

namespace Tipo.Expansion;

/// <summary>
/// Runs a request: plan (§4.1–4.2), one retry loop per operation (§4.4) over the model, parse (§6.1), post-process
/// (§6.2), and format (§7). Deterministic for a given master seed, model and device (see <see cref="TipoSeeds"/>).
/// Fixed quirk: a retry of an operation that does not expand (its prompt ends in <c>key:</c>) re-samples the original
/// prompt with the next seed, instead of feeding back its own output under a second <c>long:</c> key.
/// </summary>
public sealed class TipoPipeline
{
    private readonly ITipoLanguageModel _model;
    private readonly TagLists _tagLists;

    public TipoPipeline(ITipoLanguageModel model, TagLists tagLists)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _tagLists = tagLists ?? throw new ArgumentNullException(nameof(tagLists));
    }

    /// <summary>Runs <paramref name="request"/>.</summary>
    public TipoResult Run(TipoRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var plan = TipoPlan.Create(request, _tagLists);
        ulong seed = request.Seed ?? TipoSeeds.Random();
        var random = new TipoRandom(TipoSeeds.ForShuffle(seed));
        var calls = new List<TipoModelCall>();
        string general = plan.General;
        string nl = plan.NlPrompt;
        TagMap? parsed = null;
        for (int i = 0; i < plan.Operations.Count; i++)
        {
            TipoOperation op = plan.Operations[i];
            parsed = RunOperation(plan, request, op, i, TipoSeeds.ForOperation(seed, i), general, nl, random, calls,
                cancellationToken);
            if (i < plan.Operations.Count - 1)
            {
                if (parsed.Contains(TagMap.Generated) && nl.Length > 0)
                {
                    string moved = parsed.Text(TagMap.Generated);
                    parsed.Remove(TagMap.Generated);
                    parsed.SetText(TagMap.Extended, moved);
                }
                string next = FirstNonEmpty(parsed.Text(TagMap.Generated), parsed.Text(TagMap.Extended), nl);
                nl = next.Trim();
                general = string.Join(", ", parsed.List(TagCategory.Special).Concat(parsed.List(TagCategory.General)));
            }
        }
        parsed ??= UserTagMap(plan);
        return TipoOutput.Build(plan, seed, _model.Name, parsed, calls);
    }

    private TagMap RunOperation(TipoPlan plan, TipoRequest request, TipoOperation op, int opIndex, ulong opSeed,
        string general, string nl, TipoRandom random, List<TipoModelCall> calls, CancellationToken ct)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int attempt = 0;
        int same = 0;
        TagMap parsed = new();
        while (attempt <= TipoDefaults.MaxRetry && same < TipoDefaults.MaxSameOutput)
        {
            ct.ThrowIfCancellationRequested();
            string target = op.Target;
            string prompt = PromptBuilder.Build(plan.Meta, general, nl, op);
            ulong callSeed = unchecked(opSeed + (ulong)attempt);
            var watch = Stopwatch.StartNew();
            TipoCompletion completion;
            try
            {
                completion = _model.Complete(prompt, request.Sampling, callSeed, request.MaxNewTokens, ct);
            }
            catch (Errors.ContextOverflowException) when (attempt > 0)
            {
                // A retry's prompt (grown by the previous attempt's output) no longer fits the context:
                // keep the last attempt's result, as a finished retry loop would. The first call's overflow is the user's.
                break;
            }
            watch.Stop();
            calls.Add(new TipoModelCall(opIndex, attempt, op.Task, callSeed, prompt, completion, watch.Elapsed));
            string result = prompt + completion.Text;
            parsed = PostProcessor.Process(ResultParser.Parse(result, _tagLists), plan.Meta, general, nl, op,
                request.Ban, random);
            if (target == "long" && !parsed.Contains(TagMap.Generated))
                target = "short";
            if (Passes(parsed, target, op.Length))
                break;
            attempt++;
            if (!seen.Add(result))
                same++;
            else
                same = 0;
            if (op.Expand)
            {
                // Continue the expansion from what this attempt produced.
                nl = FirstNonEmpty(parsed.Text(TagMap.Extended), parsed.Text(TagMap.Generated), nl).Trim();
                general = string.Join(", ", parsed.List(TagCategory.Special).Concat(parsed.List(TagCategory.General)));
            }
            // else: re-sample the original prompt with the next seed.
        }
        return parsed;
    }

    /// <summary>KGen's <c>retry_criteria</c> for the operation's target field.</summary>
    public static bool Passes(TagMap parsed, string target, TipoLength length)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        return target switch
        {
            "tag" => parsed.List(TagCategory.Special).Count + parsed.List(TagCategory.General).Count >= length.MinTags(),
            "short" => parsed.Text(TagMap.Extended).Split('.').Length >= length.MinSentences(),
            _ => parsed.Text(TagMap.Generated).Split('.').Length >= length.MinSentences(),
        };
    }

    /// <summary>The user's own input as a tag map (every category, then the NL text as <c>extended</c>).</summary>
    public static TagMap UserTagMap(TipoPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var map = new TagMap();
        foreach (string category in TagCategory.All)
            map.SetList(category, plan.Categories[category]);
        map.SetText(TagMap.Extended, plan.NlPrompt);
        return map;
    }

    private static string FirstNonEmpty(params string[] values) => values.FirstOrDefault(v => v.Length > 0) ?? "";
}
