using System.Globalization;
using System.Text.RegularExpressions;

namespace Tipo.Expansion;

/// <summary>One span of an A1111 prompt: its text and weight; <see cref="IsBreak"/> marks a <c>BREAK</c>.</summary>
public readonly record struct AttentionSpan(string Text, double Weight)
{
    /// <summary>True for the marker of a <c>BREAK</c> keyword (weight -1 in A1111).</summary>
    public bool IsBreak => Weight < 0;
}

/// <summary>
/// A1111's <c>parse_prompt_attention</c> (copied by z-tipo-extension): <c>(x)</c> ×1.1, <c>[x]</c> ÷1.1, <c>(x:1.3)</c>,
/// <c>\(</c> <c>\)</c> <c>\[</c> <c>\]</c> <c>\\</c> escapes, <c>BREAK</c>; unbalanced brackets apply to the end; runs of
/// equal weight are merged.
/// </summary>
public static partial class AttentionParser
{
    [GeneratedRegex(@"\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|]|[^\\()\[\]:]+|:")]
    private static partial Regex AttentionRegex();

    [GeneratedRegex(@"\s*\bBREAK\b\s*", RegexOptions.Singleline)]
    private static partial Regex BreakRegex();

    private const double RoundMultiplier = 1.1;
    private const double SquareMultiplier = 1 / 1.1;

    /// <summary>Parses <paramref name="text"/> into weighted spans (never empty: <c>[("", 1.0)]</c> for empty text).</summary>
    public static IReadOnlyList<AttentionSpan> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var res = new List<(string Text, double Weight)>();
        var round = new List<int>();
        var square = new List<int>();

        void MultiplyRange(int start, double multiplier)
        {
            for (int p = start; p < res.Count; p++)
                res[p] = (res[p].Text, res[p].Weight * multiplier);
        }

        foreach (Match m in AttentionRegex().Matches(text))
        {
            string token = m.Value;
            Group weight = m.Groups[1];
            if (token.StartsWith('\\'))
            {
                res.Add((token[1..], 1.0));
            }
            else if (token == "(")
            {
                round.Add(res.Count);
            }
            else if (token == "[")
            {
                square.Add(res.Count);
            }
            else if (weight.Success && round.Count > 0
                     && double.TryParse(weight.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double w))
            {
                MultiplyRange(Pop(round), w);
            }
            else if (token == ")" && round.Count > 0)
            {
                MultiplyRange(Pop(round), RoundMultiplier);
            }
            else if (token == "]" && square.Count > 0)
            {
                MultiplyRange(Pop(square), SquareMultiplier);
            }
            else
            {
                string[] parts = BreakRegex().Split(token);
                for (int i = 0; i < parts.Length; i++)
                {
                    if (i > 0)
                        res.Add(("BREAK", -1));
                    res.Add((parts[i], 1.0));
                }
            }
        }
        foreach (int pos in round)
            MultiplyRange(pos, RoundMultiplier);
        foreach (int pos in square)
            MultiplyRange(pos, SquareMultiplier);
        if (res.Count == 0)
            res.Add(("", 1.0));

        int k = 0;
        while (k + 1 < res.Count)
        {
            if (res[k].Weight == res[k + 1].Weight)
            {
                res[k] = (res[k].Text + res[k + 1].Text, res[k].Weight);
                res.RemoveAt(k + 1);
            }
            else
            {
                k++;
            }
        }
        return res.Select(r => new AttentionSpan(r.Text, r.Weight)).ToList();
    }

    private static int Pop(List<int> stack)
    {
        int v = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return v;
    }

    /// <summary>Python's <c>str(float)</c>: the shortest round-trip form, always with a decimal point (<c>1.1</c>, <c>2.0</c>).</summary>
    public static string FormatWeight(double weight)
    {
        string s = weight.ToString("R", CultureInfo.InvariantCulture);
        if (s.Contains('E', StringComparison.Ordinal))
        {
            // Python: 1e-05, 1.5e+20
            int e = s.IndexOf('E', StringComparison.Ordinal);
            string mantissa = s[..e];
            int exp = int.Parse(s[(e + 1)..], CultureInfo.InvariantCulture);
            return $"{mantissa}e{(exp < 0 ? "-" : "+")}{Math.Abs(exp):00}";
        }
        return s.Contains('.', StringComparison.Ordinal) ? s : s + ".0";
    }
}
