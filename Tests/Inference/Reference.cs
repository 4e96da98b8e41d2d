using System.Runtime.InteropServices;
using System.Text.Json;

namespace Tipo.Tests.Inference;

/// <summary>A reference run from ../shared/reference: prompt, greedy continuation and teacher-forced logits.</summary>
internal sealed class Reference
{
    public required int[] Prompt { get; init; }
    public required int[] Greedy { get; init; }
    public required int Vocab { get; init; }
    public required int LogitsRows { get; init; }
    public required float[] Logits { get; init; }   // [LogitsRows, Vocab], row p = after ids[0..p] of Prompt ++ Greedy
    public string? Text { get; init; }

    /// <summary>prompt ++ greedy[:-1]: the ids whose logits the reference holds.</summary>
    public int[] TeacherForcedIds => Prompt.Concat(Greedy).Take(LogitsRows).ToArray();

    public static Reference Load(string name)
    {
        string json = File.ReadAllText(TestData.Shared($"reference/{name}.json"));
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        int vocab = root.GetProperty("vocab").GetInt32();
        int rows = root.GetProperty("logits_rows").GetInt32();
        byte[] bytes = File.ReadAllBytes(TestData.Shared($"reference/{name}.logits.f32"));
        Assert.That(bytes, Has.Length.EqualTo(4L * rows * vocab), "reference logits file size");
        return new Reference
        {
            Prompt = root.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            Greedy = root.GetProperty("greedy").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            Vocab = vocab,
            LogitsRows = rows,
            Logits = MemoryMarshal.Cast<byte, float>(bytes).ToArray(),
            Text = root.TryGetProperty("text", out var t) ? t.GetString() : null,
        };
    }
}

/// <summary>Comparison measures used against the references.</summary>
internal static class Compare
{
    /// <summary>Normalised mean squared error sum((a-b)^2) / sum(b^2), b the reference.</summary>
    public static double Nmse(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected) => Kernels.Reference.Nmse(actual, expected);

    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    /// <summary>Worst per-row NMSE and the fraction of rows whose top-1 token agrees.</summary>
    public static (double WorstNmse, int WorstRow, double Top1Agreement) Rows(float[] actual, float[] expected, int rows, int vocab)
    {
        double worst = 0; int worstRow = -1, agree = 0;
        for (int r = 0; r < rows; r++)
        {
            var a = actual.AsSpan(r * vocab, vocab);
            var e = expected.AsSpan(r * vocab, vocab);
            double n = Nmse(a, e);
            if (n > worst || worstRow < 0) { worst = n; worstRow = r; }
            if (ArgMax(a) == ArgMax(e)) agree++;
        }
        return (worst, worstRow, (double)agree / rows);
    }
}
