using Tipo.Inference.Sampling;

namespace Tipo.Tests.Sampling;

[TestFixture]
public class SamplerTests
{
    private const double Tol = 1e-6;

    /// <summary>Every step off, temperature 1: the distribution is softmax(penalized logits) in id order.</summary>
    private static readonly SamplingOptions Plain = new() { Temperature = 1f, TopK = 0, TopP = 1f, MinP = 0f, RepeatPenalty = 1f, RepeatLastN = 64 };

    private static float[] Ln(params double[] probs) => [.. probs.Select(p => (float)Math.Log(p))];

    private static double[] Softmax(params double[] logits)
    {
        double max = logits.Max();
        double[] e = [.. logits.Select(l => Math.Exp(l - max))];
        double sum = e.Sum();
        return [.. e.Select(x => x / sum)];
    }

    private static (int[] Ids, double[] Probs) Dist(SamplingOptions options, float[] logits, params int[] history)
    {
        var ids = new int[logits.Length];
        var probs = new double[logits.Length];
        int n = new Sampler(options, 1).Distribution(logits, history, ids, probs);
        return (ids[..n], probs[..n]);
    }

    private static (int[] Ids, double[] Probs) CandDist(SamplingOptions options, int[] candIds, float[] logits, params int[] history)
    {
        var ids = new int[logits.Length];
        var probs = new double[logits.Length];
        int n = new Sampler(options, 1).CandidateDistribution(candIds, logits, history, ids, probs);
        return (ids[..n], probs[..n]);
    }

    private static void AssertDist((int[] Ids, double[] Probs) actual, int[] ids, double[] probs)
    {
        Assert.That(actual.Ids, Is.EqualTo(ids), "candidate ids (draw order)");
        Assert.That(actual.Probs, Is.EqualTo(probs).Within(Tol), "probabilities");
    }

    private static float[] RandomLogits(SeededRandom rng, int n, double scale = 4)
    {
        var l = new float[n];
        for (int i = 0; i < n; i++)
            l[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return l;
    }

    // ---------------- 1) repetition penalty ----------------

    [Test]
    public void Penalty_DividesPositiveLogits_MultipliesNegativeOnes()
    {
        var o = Plain with { RepeatPenalty = 2f };
        // token 0: 2 -> 1; token 1: -1 -> -2; token 2 not in history; token 3: 0 -> 0.
        AssertDist(Dist(o, [2f, -1f, 0.5f, 0f], 0, 1, 3), [0, 1, 2, 3], Softmax(1, -2, 0.5, 0));
    }

    [Test]
    public void Penalty_AppliesOncePerDistinctToken()
    {
        var o = Plain with { RepeatPenalty = 2f };
        // token 0 appears 4 times: 4 -> 2 (not 0.25); token 1 twice: -1 -> -2 (not -4).
        AssertDist(Dist(o, [4f, -1f, 1f], 0, 0, 1, 0, 1, 0), [0, 1, 2], Softmax(2, -2, 1));
    }

    [TestCase(2, new[] { 1.0, 0.5, 0.5, 1.0 })]
    [TestCase(3, new[] { 0.5, 0.5, 0.5, 1.0 })]
    [TestCase(100, new[] { 0.5, 0.5, 0.5, 1.0 })]
    [TestCase(-1, new[] { 0.5, 0.5, 0.5, 1.0 })]
    [TestCase(0, new[] { 1.0, 1.0, 1.0, 1.0 })]
    public void Penalty_LooksAtTheLastRepeatLastNTokensOnly(int lastN, double[] penalized)
    {
        var o = Plain with { RepeatPenalty = 2f, RepeatLastN = lastN };
        AssertDist(Dist(o, [1f, 1f, 1f, 1f], 0, 1, 2), [0, 1, 2, 3], Softmax(penalized));
    }

    [Test]
    public void Penalty_OfOneChangesNothing()
    {
        AssertDist(Dist(Plain, [1f, 2f, 3f], 0, 1, 2, 2), [0, 1, 2], Softmax(1, 2, 3));
    }

    [Test]
    public void Greedy_AppliesThePenaltyFirst()
    {
        var greedy = SamplingOptions.Greedy;
        var penalized = greedy with { RepeatPenalty = 2f };
        Assert.Multiple(() =>
        {
            Assert.That(new Sampler(greedy, 0).Sample([3f, 2f], [0]), Is.Zero);
            Assert.That(new Sampler(penalized, 0).Sample([3f, 2f], [0]), Is.EqualTo(1), "3/2 = 1.5 < 2");
            Assert.That(new Sampler(penalized, 0).Sample([-1f, -1.5f], [0]), Is.EqualTo(1), "-1*2 = -2 < -1.5");
            Assert.That(new Sampler(penalized, 0).Sample([4f, 1.5f], [0, 0, 0]), Is.Zero, "4/2 = 2 > 1.5: penalized once");
        });
    }

    // ---------------- greedy ----------------

    [Test]
    public void Greedy_TiesGoToTheLowestId()
    {
        var s = new Sampler(SamplingOptions.Greedy, 0);
        Assert.That(s.Sample([1f, 5f, 5f, 2f, 5f], []), Is.EqualTo(1));
        Assert.That(s.SampleFromCandidates([9, 4, 7], [5f, 5f, 5f], []), Is.EqualTo(4));
    }

    [Test]
    public void Greedy_IsArgmax()
    {
        var rng = new SeededRandom(3);
        var s = new Sampler(SamplingOptions.Greedy with { Temperature = -1f }, 0);
        for (int trial = 0; trial < 200; trial++)
        {
            float[] logits = RandomLogits(rng, 500);
            int expected = 0;
            for (int i = 1; i < logits.Length; i++)
                if (logits[i] > logits[expected]) expected = i;
            Assert.That(s.Sample(logits, []), Is.EqualTo(expected));
        }
    }

    // ---------------- 2) top-k ----------------

    [Test]
    public void TopK_KeepsTheKHighest_TiesByLowerId()
    {
        float[] logits = [1f, 3f, 3f, 2f, 3f];
        AssertDist(Dist(Plain with { TopK = 2 }, logits), [1, 2], [0.5, 0.5]);
        AssertDist(Dist(Plain with { TopK = 3 }, logits), [1, 2, 4], [1 / 3.0, 1 / 3.0, 1 / 3.0]);
        AssertDist(Dist(Plain with { TopK = 4 }, logits), [1, 2, 4, 3], Softmax(3, 3, 3, 2));
        AssertDist(Dist(Plain with { TopK = 1 }, logits), [1], [1.0]);
    }

    [Test]
    public void TopK_LargerThanVocab_KeepsAllSortedDescending()
    {
        AssertDist(Dist(Plain with { TopK = 50 }, [0.5f, 2f, -1f, 1f]), [1, 3, 0, 2], Softmax(2, 1, 0.5, -1));
    }

    [Test]
    public void TopK_OnALargeVocab_MatchesAFullSort()
    {
        var rng = new SeededRandom(11);
        float[] logits = RandomLogits(rng, 32013);
        for (int i = 0; i < 2000; i += 7)
            logits[i] = 3.5f; // plenty of ties
        int[] expected = [.. Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(40)];
        Assert.That(Dist(Plain with { TopK = 40 }, logits).Ids, Is.EqualTo(expected));
    }

    // ---------------- 3) top-p ----------------

    [TestCase(0.49f, new[] { 1 })]
    [TestCase(0.51f, new[] { 1, 2 })]
    [TestCase(0.79f, new[] { 1, 2 })]
    [TestCase(0.81f, new[] { 1, 2, 0 })]
    [TestCase(0f, new[] { 1 })]
    public void TopP_KeepsTheSmallestPrefixReachingP(float p, int[] kept)
    {
        float[] logits = Ln(0.2, 0.5, 0.3);
        double[] full = [0.2, 0.5, 0.3];
        double mass = kept.Sum(i => full[i]);
        double[] expected = [.. kept.Select(i => full[i] / mass)];
        AssertDist(Dist(Plain with { TopP = p }, logits), kept, expected);            // top-k off: heap path
        AssertDist(Dist(Plain with { TopP = p, TopK = 3 }, logits), kept, expected);  // after top-k: sorted path
    }

    [Test]
    public void TopP_ExactBoundary_CumulativeEqualToPStops()
    {
        // Four equal logits: probabilities are exactly 0.25, so the prefix sums 0.25, 0.5, 0.75 are exact.
        float[] logits = [0f, 0f, 0f, 0f];
        foreach (int topK in new[] { 0, 4 })
        {
            AssertDist(Dist(Plain with { TopK = topK, TopP = 0.5f }, logits), [0, 1], [0.5, 0.5]);
            AssertDist(Dist(Plain with { TopK = topK, TopP = 0.75f }, logits), [0, 1, 2], [1 / 3.0, 1 / 3.0, 1 / 3.0]);
            AssertDist(Dist(Plain with { TopK = topK, TopP = 0.25f }, logits), [0], [1.0]);
        }
    }

    [Test]
    public void TopP_AppliesToWhatTopKLeft()
    {
        // probs 0.4, 0.3, 0.2, 0.1; top-k 2 renormalizes to 4/7, 3/7; top-p 0.5 then keeps just the first.
        float[] logits = Ln(0.4, 0.3, 0.2, 0.1);
        AssertDist(Dist(Plain with { TopK = 2, TopP = 0.5f }, logits), [0], [1.0]);
        // Without top-k, 0.5 needs two tokens (0.4 < 0.5 <= 0.7).
        AssertDist(Dist(Plain with { TopP = 0.5f }, logits), [0, 1], [4 / 7.0, 3 / 7.0]);
    }

    [Test]
    public void TopP_OfOneIsOff_IdOrderKept()
    {
        AssertDist(Dist(Plain with { TopP = 1f }, Ln(0.2, 0.5, 0.3)), [0, 1, 2], [0.2, 0.5, 0.3]);
    }

    // ---------------- 4) min-p ----------------

    [TestCase(0.2f, new[] { 1, 2, 3 })]   // 0.5 * 0.2 = 0.1: drops 0.05
    [TestCase(0.5f, new[] { 1, 3 })]      // 0.25: keeps 0.5 and 0.3
    [TestCase(0.7f, new[] { 1 })]         // 0.35
    [TestCase(1f, new[] { 1 })]
    public void MinP_KeepsTokensAtLeastMinPTimesTheTopProbability(float minP, int[] kept)
    {
        float[] logits = Ln(0.05, 0.5, 0.15, 0.3);
        double[] full = [0.05, 0.5, 0.15, 0.3];
        double mass = kept.Sum(i => full[i]);
        AssertDist(Dist(Plain with { MinP = minP }, logits), kept, [.. kept.Select(i => full[i] / mass)]);

        // After top-k the order is descending.
        int[] sortedKept = [.. kept.OrderByDescending(i => full[i])];
        AssertDist(Dist(Plain with { MinP = minP, TopK = 4 }, logits), sortedKept, [.. sortedKept.Select(i => full[i] / mass)]);
    }

    [Test]
    public void MinP_UsesTheProbabilitiesBeforeTemperature()
    {
        // min-p 0.2 drops only the 0.05 token even at T = 2 (after which it would be above 0.2 * pMax); then p ∝ p^(1/2).
        float[] logits = Ln(0.5, 0.3, 0.15, 0.05);
        double[] w = [Math.Sqrt(0.5), Math.Sqrt(0.3), Math.Sqrt(0.15)];
        AssertDist(Dist(Plain with { MinP = 0.2f, Temperature = 2f }, logits), [0, 1, 2], [.. w.Select(x => x / w.Sum())]);
    }

    // ---------------- 5) temperature ----------------

    [TestCase(0.5f)]
    [TestCase(1f)]
    [TestCase(2f)]
    public void Temperature_DividesTheLogits(float t)
    {
        AssertDist(Dist(Plain with { Temperature = t }, [1f, 2f, 0f]), [0, 1, 2], Softmax(1 / t, 2 / t, 0));
    }

    [Test]
    public void TopP_UsesTheProbabilitiesBeforeTemperature()
    {
        // At T = 100 everything is nearly uniform, but top-p 0.79 was decided on 0.5, 0.3, 0.2: two tokens.
        var (ids, probs) = Dist(Plain with { TopP = 0.79f, Temperature = 100f }, Ln(0.5, 0.3, 0.2));
        Assert.That(ids, Is.EqualTo(new[] { 0, 1 }));
        Assert.That(probs[0], Is.EqualTo(1 / (1 + Math.Pow(0.3 / 0.5, 0.01))).Within(Tol));
    }

    // ---------------- the whole chain ----------------

    [Test]
    public void FullChain_HandComputed()
    {
        // logits          3,  2.5,  -1,  2,    1,  0.5     history {1, 3}, penalty 1.5
        // penalized       3,  5/3,  -1,  4/3,  1,  0.5
        // top-k 4         ids 0, 1, 3, 4   probs ∝ 1, e^-4/3, e^-5/3, e^-2 = .6298, .1660, .1190, .0852
        // top-p 0.85      cumulative .6298, .7958, .9148 -> ids 0, 1, 3
        // min-p 0.2       threshold .2 * .6298 = .126 -> drops id 3 (.1190) -> ids 0, 1
        // temperature 0.5 logits 6, 10/3 -> p0 = 1 / (1 + e^(-8/3))
        var o = new SamplingOptions { RepeatPenalty = 1.5f, RepeatLastN = 64, TopK = 4, TopP = 0.85f, MinP = 0.2f, Temperature = 0.5f };
        float[] logits = [3f, 2.5f, -1f, 2f, 1f, 0.5f];
        double p0 = 1 / (1 + Math.Exp(-(3 - 2.5f / 1.5f) / 0.5));
        AssertDist(Dist(o, logits, 1, 3), [0, 1], [p0, 1 - p0]);

        // The same through SampleFromCandidates, candidates shuffled.
        int[] ids = [4, 0, 3, 1, 2, 5];
        float[] candLogits = [.. ids.Select(i => logits[i])];
        AssertDist(CandDist(o, ids, candLogits, 1, 3), [0, 1], [p0, 1 - p0]);
    }

    // ---------------- 6) the draw ----------------

    [Test]
    public void Draw_IsTheFirstCandidateWhoseCumulativeWeightExceedsOneNextDouble()
    {
        var o = Plain with { TopK = 3, Temperature = 0.7f };
        float[] logits = [0.3f, 1.2f, -0.4f, 0.9f, 0.1f];
        var (ids, probs) = Dist(o, logits);
        var sampler = new Sampler(o, 99);
        var rng = new SeededRandom(99);
        for (int i = 0; i < 1000; i++)
        {
            double u = rng.NextDouble();
            double cum = 0;
            int expected = ids[^1];
            for (int j = 0; j < ids.Length; j++)
            {
                cum += probs[j];
                if (cum > u) { expected = ids[j]; break; }
            }
            Assert.That(sampler.Sample(logits, []), Is.EqualTo(expected), $"draw {i}, u = {u}");
        }
    }

    [Test]
    public void SameSeed_SameTokens_DifferentSeed_DifferentTokens()
    {
        var o = new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1f, MinP = 0f };
        float[] logits = RandomLogits(new SeededRandom(5), 50, 1);
        var a = new Sampler(o, 2024);
        var b = new Sampler(o, 2024);
        var c = new Sampler(o, 2025);
        int[] ta = new int[1000], tb = new int[1000], tc = new int[1000];
        for (int i = 0; i < 1000; i++)
        {
            ta[i] = a.Sample(logits, []);
            tb[i] = b.Sample(logits, []);
            tc[i] = c.Sample(logits, []);
        }
        Assert.That(tb, Is.EqualTo(ta));
        Assert.That(tc, Is.Not.EqualTo(ta));
        Assert.That(ta.Distinct().Count(), Is.GreaterThan(30), "a flat distribution over 50 tokens is explored");
    }

    [TestCase(0, 1f, new[] { 0.4, 0.3, 0.2, 0.1 })]          // unsorted (id order) path
    [TestCase(3, 1f, new[] { 0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9, 0 })] // top-k (sorted) path
    [TestCase(0, 2f, new[] { 0.632456, 0.547723, 0.447214, 0.316228 })] // T = 2: ∝ sqrt(p) (normalized below)
    public void Frequencies_MatchTheDistribution(int topK, float temperature, double[] weights)
    {
        double[] expected = [.. weights.Select(w => w / weights.Sum())];
        var sampler = new Sampler(Plain with { TopK = topK, Temperature = temperature }, 777);
        float[] logits = Ln(0.4, 0.3, 0.2, 0.1);
        const int n = 20_000;
        var counts = new int[4];
        for (int i = 0; i < n; i++)
            counts[sampler.Sample(logits, [])]++;
        for (int t = 0; t < 4; t++)
        {
            double sigma = Math.Sqrt(expected[t] * (1 - expected[t]) / n);
            Assert.That(counts[t] / (double)n, Is.EqualTo(expected[t]).Within(4 * sigma + 1e-9), $"token {t}");
        }
    }

    [Test]
    public void NegativeInfinityMasksAToken()
    {
        var s = new Sampler(Plain, 8);
        float[] logits = [0f, float.NegativeInfinity, 0f];
        for (int i = 0; i < 500; i++)
            Assert.That(s.Sample(logits, []), Is.Not.EqualTo(1));
    }

    // ---------------- SampleFromCandidates ----------------

    private static IEnumerable<TestCaseData> EquivalenceCases()
    {
        yield return new TestCaseData(new SamplingOptions { TopK = 40, TopP = 0.9f, MinP = 0.05f, Temperature = 0.8f, RepeatPenalty = 1.3f, RepeatLastN = 64 }).SetName("EquivalentToSample(default chain + penalty)");
        yield return new TestCaseData(new SamplingOptions { TopK = 40, TopP = 1f, MinP = 0f, Temperature = 1.5f, RepeatPenalty = 1f }).SetName("EquivalentToSample(top-k only)");
        yield return new TestCaseData(SamplingOptions.Greedy with { RepeatPenalty = 1.2f }).SetName("EquivalentToSample(greedy + penalty)");
    }

    [TestCaseSource(nameof(EquivalenceCases))]
    public void SampleFromCandidates_EqualsSample_WhenCandidatesHoldTheTopK(SamplingOptions o)
    {
        const int vocab = 2000;
        var rng = new SeededRandom(31);
        var full = new Sampler(o, 4242);
        var partial = new Sampler(o, 4242);
        var history = new List<int>();
        for (int i = 0; i < 100; i++)
            history.Add((int)(rng.NextUInt64() % 60)); // many repeats among likely tokens
        int k = Math.Max(o.TopK, 1);

        for (int step = 0; step < 300; step++)
        {
            float[] logits = RandomLogits(rng, vocab, 3);
            for (int i = 0; i < 60; i++)
                logits[i] += 4f; // the history tokens compete for the top

            // Reference penalized logits, to know which tokens survive top-k.
            float[] pen = (float[])logits.Clone();
            int[] hist = [.. history];
            int lastN = o.RepeatLastN < 0 ? hist.Length : Math.Min(o.RepeatLastN, hist.Length);
            if (o.RepeatPenalty != 1f)
                foreach (int t in hist[^lastN..].Distinct())
                    pen[t] = pen[t] > 0 ? pen[t] / o.RepeatPenalty : pen[t] * o.RepeatPenalty;
            var candidates = Enumerable.Range(0, vocab).OrderByDescending(i => pen[i]).ThenBy(i => i).Take(k).ToList();
            for (int extra = 0; extra < 25; extra++) // plus some that top-k drops anyway
            {
                int t = (int)(rng.NextUInt64() % vocab);
                if (!candidates.Contains(t)) candidates.Add(t);
            }
            int[] ids = [.. candidates.OrderBy(_ => rng.NextUInt64())]; // GPU order is arbitrary
            float[] candLogits = [.. ids.Select(i => logits[i])];

            int expected = full.Sample(logits, hist);
            int actual = partial.SampleFromCandidates(ids, candLogits, hist);
            Assert.That(actual, Is.EqualTo(expected), $"step {step}");
            history.Add(expected);
        }
    }

    [Test]
    public void SampleFromCandidates_WithEveryTokenAndNoSorting_EqualsSample()
    {
        // Top-k and top-p off: the draw runs in id order for both, whatever order the candidates came in.
        var o = new SamplingOptions { TopK = 0, TopP = 1f, MinP = 0.1f, Temperature = 1f, RepeatPenalty = 1.1f };
        var rng = new SeededRandom(17);
        var full = new Sampler(o, 5);
        var partial = new Sampler(o, 5);
        int[] ids = [.. Enumerable.Range(0, 300).OrderBy(_ => rng.NextUInt64())];
        int[] history = [3, 4, 5, 3];
        for (int step = 0; step < 300; step++)
        {
            float[] logits = RandomLogits(rng, 300, 2);
            float[] candLogits = [.. ids.Select(i => logits[i])];
            Assert.That(partial.SampleFromCandidates(ids, candLogits, history), Is.EqualTo(full.Sample(logits, history)), $"step {step}");
        }
    }

    [Test]
    public void SampleFromCandidates_IgnoresHistoryTokensThatAreNotCandidates()
    {
        var o = Plain with { RepeatPenalty = 2f };
        // token 7: 2 -> 1; 100000 and 3 are not candidates.
        AssertDist(CandDist(o, [7, 9], [2f, 0.5f], 100_000, 7, 3), [7, 9], Softmax(1, 0.5));
    }

    // ---------------- Sample's top-k scan ----------------

    private static IEnumerable<TestCaseData> TopKScanCases()
    {
        foreach (int vocab in new[] { 5, 8, 9, 33, 1000 })
        {
            foreach (int k in new[] { 1, 2, 7, vocab - 1 }.Where(k => k >= 1 && k < vocab).Distinct())
            {
                foreach (float penalty in new[] { 1f, 1.5f, 0.5f })
                    yield return new TestCaseData(vocab, k, penalty).SetName($"TopKScan_EqualsFullSort(vocab {vocab}, k {k}, penalty {penalty})");
            }
        }
    }

    /// <summary>
    /// Sample() scans for its top-k (greedy: top-1) without copying the logits, skipping whole vectors that cannot enter
    /// its heap; SampleFromCandidates with every token loads them all and selects afterwards. Both must give the same
    /// distribution: ties (few distinct values), -infinity, penalties that lower (1.5) and raise (0.5) logits, window
    /// tokens among the first k (which fill the heap) and repeated in the window, vocabularies shorter than a vector.
    /// </summary>
    [TestCaseSource(nameof(TopKScanCases))]
    public void TopKScan_EqualsFullSort(int vocab, int k, float penalty)
    {
        var rng = new SeededRandom((ulong)(vocab * 1000 + k * 10) + (ulong)(penalty * 4));
        int[] every = [.. Enumerable.Range(0, vocab)];
        foreach (bool greedy in new[] { false, true })
        {
            var o = new SamplingOptions { TopK = k, TopP = 0.9f, MinP = 0.02f, Temperature = greedy ? 0f : 0.7f, RepeatPenalty = penalty, RepeatLastN = 16 };
            for (int trial = 0; trial < 40; trial++)
            {
                var logits = new float[vocab];
                int levels = trial % 2 == 0 ? 4 : 1000; // few levels: many ties
                for (int i = 0; i < vocab; i++)
                {
                    logits[i] = (float)((int)(rng.NextDouble() * levels) - levels / 2) / (levels / 4f);
                    if (rng.NextDouble() < 0.1) logits[i] = float.NegativeInfinity;
                }
                logits[(int)(rng.NextUInt64() % (ulong)vocab)] = 0.25f; // at least one finite
                if (trial % 3 == 0) // ascending runs make every token enter the heap
                    Array.Sort(logits);
                int[] history = [.. Enumerable.Range(0, 24).Select(_ => (int)(rng.NextUInt64() % (ulong)Math.Min(vocab, 12)))];

                var (ids, probs) = Dist(o, logits, history);
                var (refIds, refProbs) = CandDist(o, every, logits, history);
                Assert.That(ids, Is.EqualTo(refIds), $"greedy {greedy}, trial {trial}: ids");
                Assert.That(probs, Is.EqualTo(refProbs).Within(1e-12), $"greedy {greedy}, trial {trial}: probabilities");
            }
        }
    }

    private static IEnumerable<TestCaseData> TopPScanCases()
    {
        foreach (int vocab in new[] { 300, 3000 })
        {
            foreach (float penalty in new[] { 1f, 1.5f, 0.5f })
            {
                foreach (bool flat in new[] { false, true })
                    yield return new TestCaseData(vocab, penalty, flat).SetName($"TopPScan_EqualsFullSort(vocab {vocab}, penalty {penalty}, {(flat ? "flat: whole-vocabulary fallback" : "peaked")})");
            }
        }
    }

    /// <summary>
    /// With top-k off, Sample() looks for the top-p prefix among the best 256 tokens before it sorts them all;
    /// the distribution must be the one of the copy-all path (SampleFromCandidates with every token), whether the
    /// prefix is short (peaked logits, the window's tokens among the top ones) or needs the fallback (flat logits).
    /// </summary>
    [TestCaseSource(nameof(TopPScanCases))]
    public void TopPScan_EqualsFullSort(int vocab, float penalty, bool flat)
    {
        var rng = new SeededRandom((ulong)vocab + (ulong)(penalty * 8) + (flat ? 100UL : 0UL));
        int[] every = [.. Enumerable.Range(0, vocab)];
        var o = new SamplingOptions { TopK = 0, TopP = 0.9f, MinP = 0.01f, Temperature = 0.8f, RepeatPenalty = penalty, RepeatLastN = 32 };
        for (int trial = 0; trial < 30; trial++)
        {
            var logits = new float[vocab];
            for (int i = 0; i < vocab; i++)
            {
                logits[i] = (float)(rng.NextDouble() * (flat ? 0.5 : 4.0));
                if (rng.NextDouble() < 0.05) logits[i] = float.NegativeInfinity;
            }
            if (!flat)
            {
                for (int j = 0; j < 12; j++)
                    logits[(int)(rng.NextUInt64() % (ulong)vocab)] = 12f + (float)rng.NextDouble() * 3; // a few tokens hold the mass
            }
            int[] history = [.. Enumerable.Range(0, 40).Select(_ => (int)(rng.NextUInt64() % (ulong)vocab))];
            history[^1] = Array.IndexOf(logits, logits.Max()); // the top token penalized

            var (ids, probs) = Dist(o, logits, history);
            var (refIds, refProbs) = CandDist(o, every, logits, history);
            Assert.That(ids, Is.EqualTo(refIds), $"trial {trial}: ids");
            Assert.That(probs, Is.EqualTo(refProbs).Within(1e-12), $"trial {trial}: probabilities");
        }
    }

    /// <summary>
    /// A penalized token far above the rest (80 -> 40 with penalty 2, the top penalized logit 41): taking its unpenalized
    /// term back out of the vectorized sum would cancel the rest of it, so top-p must fall back to the exact path.
    /// </summary>
    [Test]
    public void TopPScan_FallsBackWhenThePenaltyCorrectionWouldCancel()
    {
        var o = new SamplingOptions { TopK = 0, TopP = 0.95f, MinP = 0f, Temperature = 1f, RepeatPenalty = 2f, RepeatLastN = 8 };
        int[] every = [.. Enumerable.Range(0, 1000)];
        for (float raw = 40f; raw <= 120f; raw += 0.5f) // where the cancelled sum comes out positive, negative or exact
        {
            for (int at = 0; at < 16; at++) // every lane of the vectorized sum
            {
                var rng = new SeededRandom((ulong)(raw * 100 + at));
                float[] logits = RandomLogits(rng, 1000, 3);
                logits[at] = raw; // penalized to raw / 2, far above the rest before the penalty
                logits[500] = raw / 2 + 1;
                for (int i = 600; i < 605; i++) logits[i] = raw / 2 - 1 + i % 3;
                var (ids, probs) = Dist(o, logits, at, 999);
                var (refIds, refProbs) = CandDist(o, every, logits, at, 999);
                Assert.That(ids, Is.EqualTo(refIds), $"raw {raw}, token {at}");
                Assert.That(probs, Is.EqualTo(refProbs).Within(1e-12), $"raw {raw}, token {at}");
            }
        }
    }

    // ---------------- allocation ----------------

    private static IEnumerable<TestCaseData> AllocationCases()
    {
        yield return new TestCaseData(new SamplingOptions { TopK = 40, TopP = 0.95f, MinP = 0.05f, Temperature = 0.8f, RepeatPenalty = 1.1f }).SetName("NoAllocation(default chain)");
        yield return new TestCaseData(new SamplingOptions { TopK = 0, TopP = 0.9f, MinP = 0f, Temperature = 1f, RepeatPenalty = 1.1f }).SetName("NoAllocation(top-p without top-k)");
        yield return new TestCaseData(new SamplingOptions { TopK = 0, TopP = 1f, MinP = 0.05f, Temperature = 1f }).SetName("NoAllocation(min-p only)");
        yield return new TestCaseData(SamplingOptions.Greedy with { RepeatPenalty = 1.1f }).SetName("NoAllocation(greedy)");
    }

    [TestCaseSource(nameof(AllocationCases))]
    public void Sample_DoesNotAllocatePerCall(SamplingOptions o)
    {
        const int vocab = 32013;
        var rng = new SeededRandom(1);
        float[] logits = RandomLogits(rng, vocab, 8);
        int[] history = [.. Enumerable.Range(0, 200).Select(i => (int)(rng.NextUInt64() % vocab))];
        int[] ids = [.. Enumerable.Range(0, 64).Select(i => (int)(rng.NextUInt64() % 1000) * 32 + i % 32).Distinct()];
        float[] candLogits = [.. ids.Select(i => logits[i])];
        var s = new Sampler(o, 1);
        int sink = 0;
        for (int i = 0; i < 50; i++) // warm-up: buffers sized, code jitted
        {
            sink += s.Sample(logits, history);
            sink += s.SampleFromCandidates(ids, candLogits, history);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            sink += s.Sample(logits, history);
            sink += s.SampleFromCandidates(ids, candLogits, history);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero);
        Assert.That(sink, Is.GreaterThanOrEqualTo(0));
    }

    // ---------------- validation ----------------

    private static IEnumerable<TestCaseData> InvalidOptions()
    {
        yield return new TestCaseData(Plain with { Temperature = float.NaN }, "Temperature");
        yield return new TestCaseData(Plain with { Temperature = float.PositiveInfinity }, "Temperature");
        yield return new TestCaseData(Plain with { TopP = 1.5f }, "TopP");
        yield return new TestCaseData(Plain with { TopP = -0.1f }, "TopP");
        yield return new TestCaseData(Plain with { TopP = float.NaN }, "TopP");
        yield return new TestCaseData(Plain with { MinP = -0.01f }, "MinP");
        yield return new TestCaseData(Plain with { MinP = 1.01f }, "MinP");
        yield return new TestCaseData(Plain with { RepeatPenalty = 0f }, "RepeatPenalty");
        yield return new TestCaseData(Plain with { RepeatPenalty = float.NaN }, "RepeatPenalty");
        yield return new TestCaseData(Plain with { RepeatLastN = -2 }, "RepeatLastN");
    }

    [TestCaseSource(nameof(InvalidOptions))]
    public void InvalidOptions_ThrowNamingTheParameter(SamplingOptions o, string param)
    {
        var ex = Assert.Throws<ArgumentException>(() => _ = new Sampler(o, 0));
        Assert.That(ex!.ParamName, Is.EqualTo(param));
        Assert.That(ex.Message, Does.Contain(param));
    }

    [Test]
    public void DefaultAndGreedyOptions_AreValid()
    {
        Assert.DoesNotThrow(() => new SamplingOptions().Validate());
        Assert.DoesNotThrow(() => SamplingOptions.Greedy.Validate());
    }

    [Test]
    public void InvalidInputs_Throw()
    {
        var s = new Sampler(Plain with { RepeatPenalty = 1.1f }, 0);
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentException>(() => s.Sample([], []));
            Assert.Throws<ArgumentException>(() => s.Sample([0f, float.NaN], []));
            Assert.Throws<ArgumentException>(() => s.Sample([0f, float.PositiveInfinity], []));
            Assert.Throws<ArgumentException>(() => s.Sample([float.NegativeInfinity, float.NegativeInfinity], []));
            Assert.Throws<ArgumentOutOfRangeException>(() => s.Sample([0f, 1f], [0, 2]));
            Assert.Throws<ArgumentOutOfRangeException>(() => s.Sample([0f, 1f], [-1]));
            Assert.Throws<ArgumentException>(() => s.SampleFromCandidates([], [], []));
            Assert.Throws<ArgumentException>(() => s.SampleFromCandidates([1, 2], [0f], []));
            Assert.Throws<ArgumentException>(() => s.SampleFromCandidates([1, 1], [0f, 1f], []));
            Assert.Throws<ArgumentOutOfRangeException>(() => s.SampleFromCandidates([-1, 1], [0f, 1f], []));
            Assert.Throws<ArgumentNullException>(() => _ = new Sampler(null!, 0));
        });
        // Still usable after rejected calls.
        Assert.That(s.Sample([0f, 5f], [1]), Is.InRange(0, 1));
    }
}
