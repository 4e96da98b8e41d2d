using System.Runtime.InteropServices;
using System.Text.Json;

namespace Tipo.Tests.Inference;

/// <summary><c>tipo logits</c> and <c>tipo generate</c> as a user runs them, against the stories260K reference.</summary>
public class InferenceCommandTests
{
    [TestCase("prefill")]
    [TestCase("decode")]
    public void LogitsCommandWritesTheReferenceRows(string mode)
    {
        var reference = Reference.Load("stories260K-greedy");
        int[] ids = reference.TeacherForcedIds.Take(12).ToArray();
        string output = Path.Combine(Path.GetTempPath(), $"tipo-logits-{Guid.NewGuid():N}.f32");
        try
        {
            var (code, _, err) = TipoCli.Run(["logits", "--model", TestData.Shared("models/stories260K.gguf"),
                "--ids", string.Join(",", ids), "--out", output, "--mode", mode, "--kv", "f32", "--ctx", "512"]);
            Assert.That(code, Is.Zero, err);
            float[] logits = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
            Assert.That(logits, Has.Length.EqualTo(ids.Length * reference.Vocab));
            var (worst, row, top1) = Compare.Rows(logits, reference.Logits, ids.Length, reference.Vocab);
            Assert.That(worst, Is.LessThanOrEqualTo(1e-6), $"row {row}");
            Assert.That(top1, Is.EqualTo(1.0));
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Test]
    public void GenerateCommandGreedyIdsMatchTheReference()
    {
        var reference = Reference.Load("stories260K-greedy");
        var (code, stdout, err) = TipoCli.Run(["generate", "--model", TestData.Shared("models/stories260K.gguf"),
            "-p", "Once upon a time", "-n", "24", "--temp", "0", "--ids", "--kv", "f32", "--ctx", "512"]);
        Assert.That(code, Is.Zero, err);
        int[] ids = JsonSerializer.Deserialize<int[]>(stdout.Trim())!;
        Assert.That(ids, Is.EqualTo(reference.Greedy.Take(24)));
        Assert.That(err, Does.Contain("seed"), "the seed used is reported");
    }

    [Test]
    public void GenerateCommandPrintsThePromptAndItsContinuation()
    {
        var reference = Reference.Load("stories260K-greedy");
        var (code, stdout, err) = TipoCli.Run(["generate", "--model", TestData.Shared("models/stories260K.gguf"),
            "-p", "Once upon a time", "-n", "40", "--temp", "0", "--kv", "f32", "--ctx", "512"]);
        Assert.That(code, Is.Zero, err);
        Assert.That(reference.Text, Does.StartWith(stdout.TrimEnd('\n')));
        Assert.That(stdout.Length, Is.GreaterThan("Once upon a time".Length + 40));
    }
}
