using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tipo.Inference.Sampling;

/// <summary>
/// Chooses the next token from logits with llama.cpp's sampler chain (the llama-cpp-python / common order):
/// <list type="number">
/// <item>repetition penalty: every <em>distinct</em> token among the last <see cref="SamplingOptions.RepeatLastN"/>
/// of the history gets <c>logit &gt; 0 ? logit / penalty : logit * penalty</c> (no frequency/presence penalty);</item>
/// <item>top-k: the k highest logits (ties: lower token id first), sorted descending;</item>
/// <item>top-p: softmax over what is left, keep the shortest descending prefix whose probability sum reaches p (at least one);</item>
/// <item>min-p: keep tokens with probability &gt;= min-p times the top one's (compared as logits, as llama.cpp does);</item>
/// <item>temperature: logits / T;</item>
/// <item>softmax, then one draw: the first candidate whose running weight sum exceeds <see cref="SeededRandom.NextDouble"/> times the total.</item>
/// </list>
/// With <see cref="SamplingOptions.Temperature"/> &lt;= 0 it is greedy: the argmax after the repetition penalty
/// (ties: lowest id); greedy calls draw no random number, every other call draws exactly one.
/// </summary>
/// <remarks>
/// One instance per generation: it owns its <see cref="SeededRandom"/> and scratch buffers sized on the first call,
/// so later calls with the same vocabulary size allocate nothing. Not thread-safe.
/// Candidates are drawn in descending-logit order when top-k or top-p sorted them, otherwise in ascending id order;
/// probabilities are computed in double precision. Logits must not be NaN or +infinity (-infinity masks a token).
/// When top-k keeps fewer tokens than the vocabulary (greedy is top-1), <see cref="Sample"/> scans the logits once
/// without copying them, with a k-element heap and whole SIMD vectors compared against its worst entry (TIPO's
/// sampler over a 32k vocabulary: ~45 µs per token instead of ~200 µs with the logits copied first); top-p without
/// top-k looks for the prefix that reaches p among the best 256 tokens selected the same way, with the sum over the
/// whole vocabulary in vectors (the same cut up to the rounding of that sum), and only where the prefix is longer
/// heapifies the vocabulary and pops as far as it reaches p.
/// </remarks>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly SeededRandom _random;

    private Candidate[] _cand = [];   // the working set, [0, count)
    private Candidate[] _work = [];   // destination of heap pops (top-p without top-k)
    private double[] _weights = [];   // exp((logit - max) / T) of the final candidates
    private int[] _markStamp = [];    // per token id: == _stamp when marked in the current call
    private int[] _markPos = [];      // per token id: index into _cand of that candidate (SampleFromCandidates), -1 once penalized
    private int _stamp;

    /// <summary>Creates a sampler for one generation.</summary>
    /// <param name="options">The sampling parameters; validated with <see cref="SamplingOptions.Validate"/>.</param>
    /// <param name="seed">Seed of the sampler's own <see cref="SeededRandom"/>; same seed, options and inputs give the same tokens.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public Sampler(SamplingOptions options, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _random = new SeededRandom(seed);
    }

    /// <summary>The parameters this sampler applies.</summary>
    public SamplingOptions Options => _options;

    /// <summary>Chooses the next token from the full vocabulary's logits.</summary>
    /// <param name="logits">One logit per token id (index = id); not modified. Must not contain NaN or +infinity, and not be all -infinity.</param>
    /// <param name="history">Every token so far (prompt and generated); the penalty looks at the last <see cref="SamplingOptions.RepeatLastN"/>.</param>
    /// <returns>The chosen token id.</returns>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty or holds an invalid value.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token in the penalty window is not a valid index into <paramref name="logits"/>.</exception>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int count = Load(logits, history, out Applied applied);
        return Choose(count, applied);
    }

    /// <summary>Which steps of the chain <see cref="Load"/> has applied already (after top-k or top-p the candidates are sorted descending).</summary>
    private enum Applied
    {
        /// <summary>The penalty only.</summary>
        Penalty,
        /// <summary>The penalty and top-k (greedy: top-1).</summary>
        TopK,
        /// <summary>The penalty and top-p, with top-k off.</summary>
        TopP,
    }

    /// <summary>
    /// Loads the logits for <see cref="Sample"/>: when top-k keeps fewer than all of them (greedy is top-1), only the k
    /// best, already selected and sorted (<see cref="LoadTopK"/>); with top-k off and top-p on, the top-p prefix where
    /// a short scan finds it (<see cref="LoadTopPPrefix"/>); otherwise every token (<see cref="LoadAll"/>).
    /// </summary>
    private int Load(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, out Applied applied)
    {
        int k = _options.IsGreedy ? 1 : _options.TopK;
        if (k > 0 && k < logits.Length)
        {
            applied = Applied.TopK;
            return LoadTopK(logits, history, k);
        }
        if (k <= 0 && _options.TopP < 1f)
        {
            int prefix = LoadTopPPrefix(logits, history);
            if (prefix > 0)
            {
                applied = Applied.TopP;
                return prefix;
            }
        }
        applied = Applied.Penalty;
        return LoadAll(logits, history);
    }

    /// <summary>Copies the logits into <c>_cand</c> (ascending id order) and applies the penalty; returns the count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadAll(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int n = logits.Length;
        ValidateLogits(logits);
        EnsureCapacity(n);
        EnsureMarks(n);

        Candidate[] cand = _cand;
        for (int i = 0; i < n; i++)
            cand[i] = new Candidate(logits[i], i);

        ReadOnlySpan<int> window = PenaltyWindow(history);
        if (!window.IsEmpty)
        {
            int stamp = NextStamp();
            float penalty = _options.RepeatPenalty;
            foreach (int t in window)
            {
                if ((uint)t >= (uint)n)
                    throw new ArgumentOutOfRangeException(nameof(history), t, $"history token {t} is outside the vocabulary [0, {n}).");
                if (_markStamp[t] == stamp)
                    continue; // distinct tokens only
                _markStamp[t] = stamp;
                cand[t].Logit = Penalize(cand[t].Logit, penalty);
            }
        }

        return n;
    }

    /// <summary>
    /// Step 1 and 2 in one pass over the logits, without copying them: leaves the <paramref name="k"/> best tokens
    /// after the penalty in <c>_cand[0, k)</c>, sorted descending (ties: lower id first), and returns k. The same tokens
    /// in the same order as <see cref="LoadAll"/> followed by <see cref="SelectTopK"/>, at a fraction of the cost: the
    /// scan keeps a k-element heap whose root is the worst kept token, and compares whole SIMD vectors of logits
    /// against that root, so that only the few tokens that can enter the heap are looked at one by one. The tokens of
    /// the penalty window are left out of the scan and offered afterwards with their penalized logits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per token: skip the tier-0 code a short run would spend its time in
    private int LoadTopK(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, int k)
    {
        int n = logits.Length;
        ValidateLogits(logits);
        EnsureCapacity(n);
        EnsureMarks(n);

        // Mark the window's distinct tokens: == stamp means "penalized, not offered yet".
        int stamp = NextStamp();
        ReadOnlySpan<int> window = PenaltyWindow(history);
        foreach (int t in window)
        {
            if ((uint)t >= (uint)n)
                throw new ArgumentOutOfRangeException(nameof(history), t, $"history token {t} is outside the vocabulary [0, {n}).");
            _markStamp[t] = stamp;
        }
        float penalty = _options.RepeatPenalty;

        // The first k tokens fill the heap (root = the worst of them).
        Span<Candidate> heap = _cand.AsSpan(0, k);
        for (int i = 0; i < k; i++)
        {
            float l = logits[i];
            if (_markStamp[i] == stamp)
            {
                _markStamp[i] = 0; // offered
                l = Penalize(l, penalty);
            }
            heap[i] = new Candidate(l, i);
        }
        BuildHeap<Reverse<ByLogitDescending>>(heap);

        // The rest: whole vectors that cannot beat the root are skipped (>=, so that ties reach the id comparison).
        int next = k;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            for (; next + width <= n; next += width)
            {
                if (!Vector.GreaterThanOrEqualAny(new Vector<float>(logits.Slice(next, width)), new Vector<float>(heap[0].Logit)))
                    continue;
                for (int i = next; i < next + width; i++)
                    Offer(heap, logits[i], i, stamp);
            }
        }
        for (; next < n; next++)
            Offer(heap, logits[next], next, stamp);

        // The penalized tokens the scan skipped.
        foreach (int t in window)
        {
            if (_markStamp[t] != stamp)
                continue; // offered already (a repeat in the window, or one of the first k)
            _markStamp[t] = 0;
            var c = new Candidate(Penalize(logits[t], penalty), t);
            if (ByLogitDescending.Before(c, heap[0]))
            {
                heap[0] = c;
                SiftDown<Reverse<ByLogitDescending>>(heap, 0, k);
            }
        }

        SortHeap<Reverse<ByLogitDescending>>(heap);
        return k;
    }

    /// <summary>
    /// Steps 1 and 3 with top-k off, when the top-p prefix is short: selects the best <see cref="TopPScanTokens"/> tokens
    /// with <see cref="LoadTopK"/>, and if their descending prefix reaches p of the whole vocabulary's probability,
    /// leaves that prefix in <c>_cand</c> and returns its length; else returns 0 and the caller loads every token. The
    /// sum the probabilities are divided by still runs over every token, vectorized (<see cref="SumOfExp"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadTopPPrefix(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int k = TopPScanTokens;
        if (k >= logits.Length)
            return 0;
        LoadTopK(logits, history, k);
        double max = _cand[0].Logit;
        double sum = SumOfExp(logits, PenaltyWindow(history), max);
        if (!double.IsFinite(sum))
            return 0; // the sum could not be trusted (see SumOfExp): the caller sorts the vocabulary
        double cum = 0;
        for (int i = 0; i < k; i++)
        {
            cum += Math.Exp(_cand[i].Logit - max) / sum;
            if (cum >= _options.TopP)
                return i + 1;
        }
        return 0;
    }

    /// <summary>
    /// How many of the best tokens <see cref="LoadTopPPrefix"/> looks at for the top-p prefix. Where the prefix is longer,
    /// the attempt costs ~5 % on top of sorting the vocabulary; a second, larger attempt (2048) cost more than the sort.
    /// </summary>
    private const int TopPScanTokens = 256;

    /// <summary>
    /// The sum over every token of exp(logit - <paramref name="max"/>), with the logits of the distinct tokens of
    /// <paramref name="window"/> penalized: the unpenalized sum in double-precision vectors, then the window's corrections.
    /// NaN when a window token's unpenalized term is so large (logit - max &gt; <see cref="MaxCorrectedExponent"/>) that
    /// taking it back out would cancel the digits of the rest of the sum.
    /// </summary>
    private double SumOfExp(ReadOnlySpan<float> logits, ReadOnlySpan<int> window, double max)
    {
        double sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            var vmax = new Vector<double>(max);
            var acc = Vector<double>.Zero;
            for (; i + width <= logits.Length; i += width)
            {
                Vector.Widen(new Vector<float>(logits.Slice(i, width)), out Vector<double> lo, out Vector<double> hi);
                acc += Vector.Exp(lo - vmax) + Vector.Exp(hi - vmax);
            }
            sum = Vector.Sum(acc);
        }
        for (; i < logits.Length; i++)
            sum += Math.Exp(logits[i] - max);

        int stamp = NextStamp();
        float penalty = _options.RepeatPenalty;
        foreach (int t in window) // in range: LoadTopK checked
        {
            if (_markStamp[t] == stamp)
                continue;
            _markStamp[t] = stamp;
            if (logits[t] - max > MaxCorrectedExponent)
                return double.NaN;
            sum += Math.Exp(Penalize(logits[t], penalty) - max) - Math.Exp(logits[t] - max);
        }
        return sum;
    }

    /// <summary>
    /// The largest logit - max of a penalized token whose unpenalized term <see cref="SumOfExp"/> adds and takes back out:
    /// e^8 ~ 3000 times the top term costs the sum at most ~3e-13 of its value (it is at least 1).
    /// </summary>
    private const double MaxCorrectedExponent = 8;

    /// <summary>Puts token <paramref name="id"/> in the heap in place of its root if it comes before it, unless it is penalized.</summary>
    private void Offer(Span<Candidate> heap, float logit, int id, int stamp)
    {
        if (_markStamp[id] == stamp)
            return; // penalized: offered after the scan
        var c = new Candidate(logit, id);
        if (ByLogitDescending.Before(c, heap[0]))
        {
            heap[0] = c;
            SiftDown<Reverse<ByLogitDescending>>(heap, 0, heap.Length);
        }
    }

    /// <summary>Throws unless <paramref name="logits"/> is non-empty, free of NaN and +infinity, and not all -infinity.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ValidateLogits(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty)
            throw new ArgumentException("logits must not be empty.", nameof(logits));
        // Vectors first (NaN and +infinity both fail "< +infinity"), then the tail and the offending vector one by one.
        int i = 0;
        float max = float.NegativeInfinity;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            var inf = new Vector<float>(float.PositiveInfinity);
            var vmax = new Vector<float>(float.NegativeInfinity);
            for (; i + width <= logits.Length; i += width)
            {
                var v = new Vector<float>(logits.Slice(i, width));
                if (!Vector.LessThanAll(v, inf))
                    break;
                vmax = Vector.Max(vmax, v);
            }
            for (int j = 0; j < width; j++)
                max = Math.Max(max, vmax[j]);
        }
        for (; i < logits.Length; i++)
        {
            float l = logits[i];
            if (float.IsNaN(l) || float.IsPositiveInfinity(l))
                throw InvalidLogit(nameof(logits), i, l);
            max = Math.Max(max, l);
        }
        if (max == float.NegativeInfinity)
            throw new ArgumentException("logits are all -infinity: no token can be chosen.", nameof(logits));
    }

    /// <summary>
    /// Chooses the next token when only some candidates are known (e.g. the top-K logits computed on the GPU),
    /// with the same semantics as <see cref="Sample"/> restricted to them. When the candidates include every token
    /// that survives <see cref="Sample"/>'s top-k (after the penalty), the result equals <see cref="Sample"/>'s for the
    /// same seed and call sequence, whatever the candidates' order.
    /// </summary>
    /// <param name="ids">Distinct, non-negative token ids of the candidates.</param>
    /// <param name="logits">The candidates' logits, parallel to <paramref name="ids"/>; not modified. Same rules as <see cref="Sample"/>.</param>
    /// <param name="history">Every token so far; tokens in the penalty window that are not candidates are ignored.</param>
    /// <returns>The chosen token id (one of <paramref name="ids"/>).</returns>
    /// <exception cref="ArgumentException">Empty or mismatched spans, a duplicate id, or an invalid logit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A negative id, or a negative token in the penalty window.</exception>
    public int SampleFromCandidates(ReadOnlySpan<int> ids, ReadOnlySpan<float> logits, ReadOnlySpan<int> history) =>
        Choose(LoadCandidates(ids, logits, history), Applied.Penalty);

    /// <summary>Copies the candidates into <c>_cand</c> and applies the penalty; returns the count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadCandidates(ReadOnlySpan<int> ids, ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int n = ids.Length;
        if (n == 0)
            throw new ArgumentException("ids must not be empty.", nameof(ids));
        if (logits.Length != n)
            throw new ArgumentException($"logits has {logits.Length} entries but ids has {n}.", nameof(logits));

        int maxId = 0;
        foreach (int id in ids)
        {
            if (id < 0)
                throw new ArgumentOutOfRangeException(nameof(ids), id, "token ids must be non-negative.");
            maxId = Math.Max(maxId, id);
        }
        EnsureCapacity(n);
        EnsureMarks(maxId + 1);

        Candidate[] cand = _cand;
        int stamp = NextStamp();
        bool anyFinite = false;
        for (int i = 0; i < n; i++)
        {
            int id = ids[i];
            float l = logits[i];
            if (float.IsNaN(l) || float.IsPositiveInfinity(l))
                throw InvalidLogit(nameof(logits), i, l);
            if (_markStamp[id] == stamp)
                throw new ArgumentException($"token id {id} appears more than once in ids.", nameof(ids));
            _markStamp[id] = stamp;
            _markPos[id] = i;
            anyFinite |= l != float.NegativeInfinity;
            cand[i] = new Candidate(l, id);
        }
        if (!anyFinite)
            throw new ArgumentException("logits are all -infinity: no token can be chosen.", nameof(logits));

        ReadOnlySpan<int> window = PenaltyWindow(history);
        float penalty = _options.RepeatPenalty;
        foreach (int t in window)
        {
            if (t < 0)
                throw new ArgumentOutOfRangeException(nameof(history), t, "history tokens must be non-negative.");
            if (t > maxId || _markStamp[t] != stamp)
                continue; // not a candidate
            int pos = _markPos[t];
            if (pos < 0)
                continue; // already penalized: distinct tokens only
            _markPos[t] = -1;
            cand[pos].Logit = Penalize(cand[pos].Logit, penalty);
        }

        // Sample() sees unsorted candidates in ascending id order; when no step below sorts them, match it.
        if (!_options.IsGreedy && _options.TopK <= 0 && _options.TopP >= 1f)
            Sort<ByIdAscending>(cand.AsSpan(0, n));
        return n;
    }

    /// <summary>
    /// Steps 2 to 6 (or the greedy argmax) over <c>_cand[0, count)</c>, where the steps up to <paramref name="applied"/>
    /// have been applied already.
    /// </summary>
    private int Choose(int count, Applied applied)
    {
        if (_options.IsGreedy)
            return _cand[ArgMax(count)].Id;

        (Candidate[] cur, count, double sum) = Prepare(count, applied);
        double[] w = _weights;
        double target = _random.NextDouble() * sum;
        double run = 0;
        int lastPositive = 0;
        for (int i = 0; i < count; i++)
        {
            if (w[i] <= 0)
                continue;
            lastPositive = i;
            run += w[i];
            if (run > target)
                return cur[i].Id;
        }
        return cur[lastPositive].Id; // rounding: the target landed on the total
    }

    private int ArgMax(int count)
    {
        Candidate[] cand = _cand;
        int best = 0;
        for (int i = 1; i < count; i++)
        {
            if (ByLogitDescending.Before(cand[i], cand[best]))
                best = i;
        }
        return best;
    }

    /// <summary>
    /// Steps 2 to 5 over <c>_cand[0, count)</c>: returns the surviving candidates (in draw order), their count, and the
    /// total of their weights <c>exp((logit - max) / T)</c>, which are left in <c>_weights</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private (Candidate[] Cur, int Count, double Sum) Prepare(int count, Applied applied)
    {
        Candidate[] cur = _cand;
        bool sorted = applied != Applied.Penalty;

        // 2) top-k
        if (applied == Applied.Penalty && _options.TopK > 0)
        {
            int k = Math.Min(_options.TopK, count);
            if (k < count)
                SelectTopK(cur.AsSpan(0, count), k);
            else
                Sort<ByLogitDescending>(cur.AsSpan(0, count));
            count = k;
            sorted = true;
        }

        // 3) top-p
        double topP = _options.TopP;
        if (topP < 1.0 && applied != Applied.TopP)
        {
            if (sorted)
            {
                double max = cur[0].Logit;
                double[] w = _weights;
                double sum = 0;
                for (int i = 0; i < count; i++)
                    sum += w[i] = Math.Exp(cur[i].Logit - max);
                double cum = 0;
                for (int i = 0; i < count; i++)
                {
                    cum += w[i] / sum;
                    if (cum >= topP)
                    {
                        count = i + 1;
                        break;
                    }
                }
            }
            else
            {
                // Without top-k: a heap over everything, popped in descending order only as far as the prefix reaches p.
                Span<Candidate> heap = cur.AsSpan(0, count);
                BuildHeap<ByLogitDescending>(heap);
                double max = heap[0].Logit;
                double sum = 0;
                foreach (ref readonly Candidate c in heap)
                    sum += Math.Exp(c.Logit - max);
                Candidate[] dst = _work;
                int size = count, taken = 0;
                double cum = 0;
                while (size > 0)
                {
                    Candidate top = heap[0];
                    dst[taken++] = top;
                    heap[0] = heap[--size];
                    SiftDown<ByLogitDescending>(heap, 0, size);
                    cum += Math.Exp(top.Logit - max) / sum;
                    if (cum >= topP)
                        break;
                }
                cur = dst;
                count = taken;
                sorted = true;
            }
        }

        // 4) min-p: logit >= maxLogit + ln(minP)  <=>  p >= minP * pMax
        if (_options.MinP > 0f)
        {
            double max = MaxLogit(cur, count, sorted);
            double threshold = max + Math.Log(_options.MinP);
            int kept = 0;
            for (int i = 0; i < count; i++)
            {
                if (cur[i].Logit >= threshold)
                    cur[kept++] = cur[i];
                else if (sorted)
                    break;
            }
            count = kept; // the top token always passes (ln(minP) <= 0)
        }

        // 5) temperature and 6) softmax + draw
        {
            double max = MaxLogit(cur, count, sorted);
            double invT = 1.0 / _options.Temperature;
            double[] w = _weights;
            double sum = 0;
            for (int i = 0; i < count; i++)
            {
                double x = Math.Exp((cur[i].Logit - max) * invT);
                w[i] = x;
                sum += x;
            }
            return (cur, count, sum);
        }
    }

    /// <summary>
    /// Test hook: the distribution <see cref="Sample"/> would draw from (ids in draw order and normalized probabilities),
    /// without drawing. Greedy gives the argmax with probability 1. Returns the number of entries written.
    /// </summary>
    internal int Distribution(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Span<int> ids, Span<double> probs)
    {
        int count = Load(logits, history, out Applied applied);
        return WriteDistribution(count, applied, ids, probs);
    }

    /// <summary>Test hook: as <see cref="Distribution"/>, for <see cref="SampleFromCandidates"/>.</summary>
    internal int CandidateDistribution(ReadOnlySpan<int> candidateIds, ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Span<int> ids, Span<double> probs) =>
        WriteDistribution(LoadCandidates(candidateIds, logits, history), Applied.Penalty, ids, probs);

    private int WriteDistribution(int count, Applied applied, Span<int> ids, Span<double> probs)
    {
        if (_options.IsGreedy)
        {
            ids[0] = _cand[ArgMax(count)].Id;
            probs[0] = 1.0;
            return 1;
        }
        (Candidate[] cur, count, double sum) = Prepare(count, applied);
        for (int i = 0; i < count; i++)
        {
            ids[i] = cur[i].Id;
            probs[i] = _weights[i] / sum;
        }
        return count;
    }

    /// <summary>Keeps the k best of <paramref name="span"/> in its first k slots, sorted descending (ties: lower id first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SelectTopK(Span<Candidate> span, int k)
    {
        // A heap of the k best so far whose root is the worst of them; the rest of the span is scanned once.
        Span<Candidate> heap = span[..k];
        BuildHeap<Reverse<ByLogitDescending>>(heap);
        for (int i = k; i < span.Length; i++)
        {
            if (ByLogitDescending.Before(span[i], heap[0]))
            {
                heap[0] = span[i];
                SiftDown<Reverse<ByLogitDescending>>(heap, 0, k);
            }
        }
        SortHeap<Reverse<ByLogitDescending>>(heap);
    }

    private static double MaxLogit(Candidate[] cur, int count, bool sorted)
    {
        if (sorted)
            return cur[0].Logit;
        float max = float.NegativeInfinity;
        for (int i = 0; i < count; i++)
            max = Math.Max(max, cur[i].Logit);
        return max;
    }

    private static float Penalize(float logit, float penalty) => logit > 0f ? logit / penalty : logit * penalty;

    private ReadOnlySpan<int> PenaltyWindow(ReadOnlySpan<int> history)
    {
        int lastN = _options.RepeatLastN;
        if (_options.RepeatPenalty == 1f || lastN == 0)
            return default;
        return lastN < 0 || lastN >= history.Length ? history : history[^lastN..];
    }

    private static ArgumentException InvalidLogit(string param, int index, float value) =>
        new($"logit {index} is {value}: logits must not be NaN or +infinity.", param);

    private int NextStamp()
    {
        if (_stamp == int.MaxValue)
        {
            Array.Clear(_markStamp);
            _stamp = 0;
        }
        return ++_stamp;
    }

    private void EnsureCapacity(int n)
    {
        if (_cand.Length >= n)
            return;
        _cand = new Candidate[n];
        _work = new Candidate[n];
        _weights = new double[n];
    }

    private void EnsureMarks(int n)
    {
        if (_markStamp.Length >= n)
            return;
        // Fresh arrays hold 0, which no live stamp equals (stamps start at 1).
        _markStamp = new int[n];
        _markPos = new int[n];
    }

    // ---- heaps over Candidate, ordered by a static "Before" relation (root = first in that order) ----

    /// <summary>Sorts <paramref name="span"/> so that it is in <typeparamref name="TOrder"/>'s order (heapsort, no allocation).</summary>
    private static void Sort<TOrder>(Span<Candidate> span) where TOrder : struct, IOrder
    {
        BuildHeap<Reverse<TOrder>>(span);
        SortHeap<Reverse<TOrder>>(span);
    }

    /// <summary>Turns a heap (root first in <typeparamref name="THeap"/>) into an array in the reverse of that order.</summary>
    private static void SortHeap<THeap>(Span<Candidate> heap) where THeap : struct, IOrder
    {
        for (int end = heap.Length - 1; end > 0; end--)
        {
            (heap[0], heap[end]) = (heap[end], heap[0]);
            SiftDown<THeap>(heap, 0, end);
        }
    }

    private static void BuildHeap<THeap>(Span<Candidate> span) where THeap : struct, IOrder
    {
        for (int i = span.Length / 2 - 1; i >= 0; i--)
            SiftDown<THeap>(span, i, span.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SiftDown<THeap>(Span<Candidate> heap, int i, int size) where THeap : struct, IOrder
    {
        Candidate item = heap[i];
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= size)
                break;
            if (child + 1 < size && THeap.Before(heap[child + 1], heap[child]))
                child++;
            if (!THeap.Before(heap[child], item))
                break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = item;
    }

    private struct Candidate(float logit, int id)
    {
        public float Logit = logit;
        public readonly int Id = id;
    }

    private interface IOrder
    {
        /// <summary>True when <paramref name="a"/> comes strictly before <paramref name="b"/>.</summary>
        static abstract bool Before(in Candidate a, in Candidate b);
    }

    /// <summary>Higher logit first; equal logits: lower id first.</summary>
    private readonly struct ByLogitDescending : IOrder
    {
        public static bool Before(in Candidate a, in Candidate b) => a.Logit > b.Logit || (a.Logit == b.Logit && a.Id < b.Id);
    }

    private readonly struct ByIdAscending : IOrder
    {
        public static bool Before(in Candidate a, in Candidate b) => a.Id < b.Id;
    }

    private readonly struct Reverse<T> : IOrder where T : struct, IOrder
    {
        public static bool Before(in Candidate a, in Candidate b) => T.Before(b, a);
    }
}
