using System.Globalization;

namespace Tipo.Inference.Kernels;

/// <summary>
/// Where a decode step's time goes inside the one-dispatch decode layers: decode_layer_timeline.comp writes the device
/// clock (ns) at every phase boundary of every workgroup, <see cref="DecodeLayerKernel.ReadTimeline"/> reads them back,
/// and this summarises them per phase over the layers (medians), e.g. for <c>tipo bench --profile</c>. The per-shader
/// timestamps of the per-op recording cannot see inside one dispatch; this is what found the x loads Wo waited for
/// behind the next phase's weights (README, Speed).
/// </summary>
public sealed class DecodeLayerTimeline
{
    /// <summary>Marks per workgroup and layer: 0 the start, 1-4 the arrival at sync j (its own work of phase j done),
    /// 5-8 the exit from sync j, 9 the end. A layer's phase 1 runs at the end of one dispatch and its phases 2-5 in the
    /// next, so its "sync 1" is the dispatch boundary (arrival: the end of phase 1; exit: the next dispatch's start), and
    /// the grid sync after its phase 5 ends at the next layer's start.</summary>
    public const int Marks = 10;

    /// <summary>The five phases, in the kernel's order.</summary>
    public static readonly string[] PhaseNames =
    [
        "1 norm + QKV + rope + cache append", "2 attention", "3 Wo + residual", "4 norm + gate/up + SwiGLU", "5 W_down + residual",
    ];

    private readonly ulong[] _ns;   // [layers, workgroups, Marks]
    private readonly ulong _base;   // the earliest mark: doubles hold differences from it exactly, not the clock's ~1e18 ns

    public int Layers { get; }
    public int Workgroups { get; }

    public DecodeLayerTimeline(ulong[] ns, int layers, int workgroups)
    {
        ArgumentNullException.ThrowIfNull(ns);
        if (ns.LongLength != (long)layers * workgroups * Marks)
            throw new ArgumentException($"{ns.Length} marks for {layers} layers x {workgroups} workgroups x {Marks}", nameof(ns));
        (_ns, Layers, Workgroups) = (ns, layers, workgroups);
        _base = ns.Length == 0 ? 0 : ns.Min();
        if (ns.Length == 0 || _base == 0)
            throw new InvalidDataException("the decode-layer timeline has marks that were never written (a step that did not run to the end?)");
    }

    /// <summary>Mark <paramref name="mark"/> of workgroup <paramref name="workgroup"/> in layer <paramref name="layer"/> (ns of the device clock).</summary>
    public ulong At(int layer, int workgroup, int mark) => _ns[((long)layer * Workgroups + workgroup) * Marks + mark];

    /// <summary>One phase of a layer: <see cref="WorkMicroseconds"/> from the median workgroup's exit from the sync before
    /// (the layer's first start for phase 1) to the last arrival at the sync after it (the last end for phase 5), then
    /// <see cref="SyncMicroseconds"/> from that last arrival to the median exit (phase 1: the dispatch boundary; phase 5:
    /// the grid sync to the next layer's first start). Medians over the layers.</summary>
    public readonly record struct Phase(string Name, double WorkMicroseconds, double SyncMicroseconds);

    /// <summary>The phases (medians over the layers; with three or more layers the first and last are left out, as a
    /// dispatch boundary bounds them on one side only), and the median layer from its first start to the next layer's.</summary>
    public (IReadOnlyList<Phase> Phases, double LayerMicroseconds) Summarise()
    {
        int first = Layers >= 3 ? 1 : 0, last = Layers >= 3 ? Layers - 2 : Layers - 1;
        var work = new List<double>[5];
        var wait = new List<double>[5];
        var layer = new List<double>();
        for (int p = 0; p < 5; p++) (work[p], wait[p]) = ([], []);
        for (int l = first; l <= last; l++)
        {
            double start = Min(l, 0);
            double from = start;
            for (int j = 1; j <= 4; j++)
            {
                double lastArrival = Max(l, j);
                work[j - 1].Add((lastArrival - from) / 1000);
                double exit = Median(l, 4 + j);
                wait[j - 1].Add((exit - lastArrival) / 1000);
                from = exit;
            }
            double end = Max(l, 9);
            work[4].Add((end - from) / 1000);
            if (l + 1 < Layers)
            {
                double next = Min(l + 1, 0);
                wait[4].Add((next - end) / 1000);
                layer.Add((next - start) / 1000);
            }
            else layer.Add((end - start) / 1000);
        }
        var phases = Enumerable.Range(0, 5).Select(p => new Phase(PhaseNames[p], Median(work[p]), wait[p].Count > 0 ? Median(wait[p]) : 0)).ToArray();
        return (phases, Median(layer));
    }

    /// <summary>A markdown table of <see cref="Summarise"/>.</summary>
    public string Format()
    {
        var (phases, layerUs) = Summarise();
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(string.Format(inv, "decode layer phases ({0} workgroup{1}, device clock at every phase boundary; medians over layers, us): a layer {2:F2} us",
            Workgroups, Workgroups == 1 ? "" : "s", layerUs));
        sb.AppendLine("| phase | work: from the sync before to the last workgroup's arrival | then: to the median exit (phase 1: the dispatch boundary; phase 5: to the next layer) |");
        sb.AppendLine("| --- | ---: | ---: |");
        foreach (var p in phases) sb.AppendLine(string.Format(inv, "| {0} | {1:F2} | {2:F2} |", p.Name, p.WorkMicroseconds, p.SyncMicroseconds));
        return sb.ToString();
    }

    // A mark in ns after the earliest one.
    private double Rel(int l, int w, int mark) => At(l, w, mark) - _base;

    private double Min(int l, int mark) => Enumerable.Range(0, Workgroups).Min(w => Rel(l, w, mark));

    private double Max(int l, int mark) => Enumerable.Range(0, Workgroups).Max(w => Rel(l, w, mark));

    private double Median(int l, int mark) => Median(Enumerable.Range(0, Workgroups).Select(w => Rel(l, w, mark)).ToList());

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
