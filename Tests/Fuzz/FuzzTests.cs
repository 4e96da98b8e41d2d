using System.Text;
using Tipo.Errors;
using Tipo.Fuzzing;
using Tipo.Models;
using Tipo.Tests.Models;
using Tipo.Text;

namespace Tipo.Tests.Fuzz;

/// <summary>
/// The CI share of the fuzz campaign (500 cases over the GGUF, safetensors, config.json and tokenizer readers; the
/// 10,000-case run is <c>tipo fuzz</c>), the mutator's determinism, and regressions for the bugs the fuzzer found.
/// </summary>
public class FuzzTests : TempDirTest
{
    /// <summary>The CI campaign's seed; <c>tipo fuzz --seed 2026 --case N</c> reproduces a failing case alone.</summary>
    private const ulong CiSeed = 2026;

    /// <summary>The seeds' folder, with the Hugging Face dir the safetensors, config and tokenizer seeds come from.</summary>
    private static string SharedModels()
    {
        TestData.Shared("models/tipo-tiny/model.safetensors");
        return TestData.Shared("models");
    }

    [Test]
    [CancelAfter(300_000)]
    public void FiveHundredCases_EndInAValidLoadOrAClearError()
    {
        using var fuzzer = new FormatFuzzer(new FuzzOptions { SharedModels = SharedModels(), Seed = CiSeed, WorkDirectory = Path.Combine(Dir, "work") });
        var report = fuzzer.Run(500);
        var text = new StringWriter();
        report.Write(text);
        TestContext.Out.WriteLine(text.ToString());
        Assert.That(report.Failures, Is.Empty, text.ToString());
        Assert.That(report.Cases, Is.EqualTo(500));
        Assert.That(report.Targets.Keys, Is.EquivalentTo(Enum.GetValues<FuzzTarget>()), "every reader is fuzzed");
        foreach (var (target, counts) in report.Targets)
        {
            Assert.That(counts.Valid, Is.GreaterThan(0), $"{target}: some mutations still load (the mutator does not only break files)");
            Assert.That(counts.Errors.Values.Sum(), Is.GreaterThan(counts.Cases / 2), $"{target}: most mutations are caught");
        }
    }

    [Test]
    public void CasesAreDeterministic()
    {
        using var a = new FormatFuzzer(new FuzzOptions { SharedModels = SharedModels(), Seed = 7, WorkDirectory = Path.Combine(Dir, "a") });
        using var b = new FormatFuzzer(new FuzzOptions { SharedModels = SharedModels(), Seed = 7, WorkDirectory = Path.Combine(Dir, "b") });
        using var c = new FormatFuzzer(new FuzzOptions { SharedModels = SharedModels(), Seed = 8, WorkDirectory = Path.Combine(Dir, "c") });
        int differ = 0;
        foreach (int i in new[] { 0, 1, 2, 3, 17, 123, 4321 })
        {
            var x = a.Build(i);
            var y = b.Build(i);
            var z = c.Build(i);
            Assert.That(y.Mutation, Is.EqualTo(x.Mutation), $"case {i}");
            Assert.That(y.Input.Head, Is.EqualTo(x.Input.Head), $"case {i}");
            Assert.That(y.Input.Length, Is.EqualTo(x.Input.Length), $"case {i}");
            Assert.That(y.Target, Is.EqualTo(x.Target));
            if (z.Mutation != x.Mutation)
                differ++;
        }
        Assert.That(differ, Is.GreaterThan(0), "another seed gives other cases");
        // A case run alone gives the same outcome as in the campaign.
        Assert.That(a.RunCase(17).Outcome, Is.EqualTo(b.RunCase(17).Outcome));
    }

    [Test]
    public void TruncationKeepsTheHeadAndCutsTheTail()
    {
        var input = new FuzzInput { Head = [1, 2, 3, 4], Source = "x", TailOffset = 4, TailLength = 10 };
        input.Truncate(9);
        Assert.That((input.Head.Length, input.TailLength), Is.EqualTo((4, 5L)));
        input.Truncate(2);
        Assert.That((input.Head.Length, input.TailLength), Is.EqualTo((2, 0L)));
    }

    // ---- regressions: each of these was an InvalidOperationException before the fuzzer found it ----

    private static byte[] Safetensors(byte[] header)
    {
        var bytes = new byte[8 + header.Length + 16];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    [Test]
    public void Safetensors_InvalidUtf8InTheHeader_IsAFormatError()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}");
        header[4] = 0xFF; // a lone continuation byte inside the tensor name
        string path = WriteFile("model.safetensors", Safetensors(header));
        ExpectFormatError(path, () => SafetensorsFile.Open(path).Dispose(), "UTF-8");
    }

    [Test]
    public void Safetensors_InvalidUtf8InTheDtype_IsAFormatError()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F3X\",\"shape\":[4],\"data_offsets\":[0,16]}}");
        header[Array.IndexOf(header, (byte)'X')] = 0xC3;
        string path = WriteFile("model.safetensors", Safetensors(header));
        ExpectFormatError(path, () => SafetensorsFile.Open(path).Dispose(), "UTF-8");
    }

    [Test]
    public void Safetensors_StringDataOffsets_AreAFormatError()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[\"0\",16]}}");
        string path = WriteFile("model.safetensors", Safetensors(header));
        ExpectFormatError(path, () => SafetensorsFile.Open(path).Dispose(), "data_offsets");
    }

    [Test]
    public void Config_InvalidUtf8_IsAFormatError()
    {
        string text = File.ReadAllText(TestData.Shared("models/tipo-tiny/config.json")).Replace("LlamaForCausalLM", "LlamaForCausalLMX", StringComparison.Ordinal);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        bytes[Encoding.UTF8.GetBytes(text[..text.IndexOf("LMX", StringComparison.Ordinal)]).Length + 2] = 0xFE;
        string path = WriteFile("config.json", bytes);
        ExpectFormatError(path, () => LlamaConfig.FromConfigJson(path), "UTF-8");
    }

    [Test]
    public void AddedTokens_InvalidUtf8_IsAFormatErrorNamingTheFile()
    {
        string hf = TestData.Shared("models/tipo-tiny");
        File.Copy(Path.Combine(hf, "tokenizer.model"), Path.Combine(Dir, "tokenizer.model"));
        byte[] bytes = File.ReadAllBytes(Path.Combine(hf, "added_tokens.json"));
        bytes[Array.IndexOf(bytes, (byte)'e')] = 0xFF; // inside "<|empty|>"
        string path = WriteFile("added_tokens.json", bytes);
        ExpectFormatError(path, () => TokenizerLoader.Load(Dir), "UTF-8");
    }

    [Test]
    [CancelAfter(20_000)]
    public void AddedTokens_HugeId_IsAFormatErrorNotMillionsOfPaddingTokens()
    {
        // Before: 4.5 GB and 3 minutes to pad the vocabulary up to id 9,999,999.
        File.Copy(TestData.Shared("models/tipo-tiny/tokenizer.model"), Path.Combine(Dir, "tokenizer.model"));
        string path = WriteFile("added_tokens.json", Encoding.UTF8.GetBytes("{\"<|x|>\": 9999999}"));
        ExpectFormatError(path, () => TokenizerLoader.Load(Dir), "9999999", "<|x|>");
    }

    [Test]
    public void AddedTokensDecoder_IdIntMax_IsAFormatError()
    {
        // Before: the padded count overflowed and the loader threw ArgumentOutOfRangeException.
        File.Copy(TestData.Shared("models/tipo-tiny/tokenizer.model"), Path.Combine(Dir, "tokenizer.model"));
        WriteFile("added_tokens.json", Encoding.UTF8.GetBytes("{\"<|x|>\": 32000}"));
        string path = WriteFile("tokenizer_config.json", Encoding.UTF8.GetBytes("{\"added_tokens_decoder\": {\"2147483647\": {\"content\": \"<|y|>\", \"special\": true}}}"));
        ExpectFormatError(path, () => TokenizerLoader.Load(Dir), "2147483647");
    }

    [Test]
    public void AddedTokens_GapOverTheBound_IsAFormatError()
    {
        // tipo fuzz --seed 2 --case 251: an id of 90122 padded 58,000 tokens (68 MB, over the fuzzer's allocation bound).
        File.Copy(TestData.Shared("models/tipo-tiny/tokenizer.model"), Path.Combine(Dir, "tokenizer.model"));
        string path = WriteFile("added_tokens.json", Encoding.UTF8.GetBytes("{\"<|x|>\": 90122}"));
        ExpectFormatError(path, () => TokenizerLoader.Load(Dir), "90122", "16384");
    }

    [Test]
    [CancelAfter(20_000)]
    public void Config_HugeLayerCount_IsAFormatErrorWithoutEnumeratingEveryLayer()
    {
        // tipo fuzz --seed 2 --case 9494: num_hidden_layers = 10,000,000 hung (90 million expected tensor names).
        string hf = TestData.Shared("models/tipo-tiny");
        foreach (string f in Directory.GetFiles(hf).Where(f => Path.GetFileName(f) != "config.json"))
            File.CreateSymbolicLink(Path.Combine(Dir, Path.GetFileName(f)), f);
        string text = File.ReadAllText(Path.Combine(hf, "config.json")).Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 10000000", StringComparison.Ordinal);
        string path = WriteFile("config.json", Encoding.UTF8.GetBytes(text));
        ExpectFormatError(Dir, () => LlamaModelFile.Open(Dir).Dispose(), "10000000 layers");
    }

    [Test]
    public void AddedTokens_SmallGap_IsPadded()
    {
        File.Copy(TestData.Shared("models/tipo-tiny/tokenizer.model"), Path.Combine(Dir, "tokenizer.model"));
        WriteFile("added_tokens.json", Encoding.UTF8.GetBytes("{\"<|x|>\": 32100}"));
        var tokenizer = TokenizerLoader.Load(Dir);
        Assert.That(tokenizer.VocabSize, Is.EqualTo(32101));
        Assert.That(tokenizer.Encode("<|x|>", addBos: false), Is.EqualTo(new[] { 32100 }));
    }

    [Test]
    public void GgufTokenizer_ScoresAsNestedArrays_AreAFormatError()
    {
        // Before: Convert.ToDouble(GgufValue) threw InvalidCastException.
        var nested = new GgufValue(GgufValueType.Array,
            new[] { new GgufValue(GgufValueType.Array, new[] { 1f }, GgufValueType.Float32), new GgufValue(GgufValueType.Array, new[] { 2f }, GgufValueType.Float32) },
            GgufValueType.Array);
        string path = Path.Combine(Dir, "vocab.gguf");
        new GgufWriter().Add("tokenizer.ggml.model", "llama").Add("tokenizer.ggml.tokens", ["<unk>", "<s>"]).Add("tokenizer.ggml.scores", nested).Write(path);
        ExpectFormatError(path, () => TokenizerLoader.Load(path), "tokenizer.ggml.scores");
    }

    [Test]
    public void TokenizerConfig_LoneSurrogateEscape_IsAFormatErrorNamingTheFile()
    {
        string hf = TestData.Shared("models/tipo-tiny");
        File.Copy(Path.Combine(hf, "tokenizer.model"), Path.Combine(Dir, "tokenizer.model"));
        string path = WriteFile("special_tokens_map.json", Encoding.UTF8.GetBytes("{\"bos_token\": \"\\ud800\"}"));
        ExpectFormatError(path, () => TokenizerLoader.Load(Dir), "UTF-");
    }
}
