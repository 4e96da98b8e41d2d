using System.Text;
using System.Text.Json;
using Tipo.Errors;
using Tipo.Text;

namespace Tipo.Tests.Text;

[TestFixture]
public class LlamaTokenizerTests
{
    private static readonly Lazy<LlamaTokenizer> s_hf = new(() => LlamaTokenizer.FromHuggingFaceDirectory(TestData.Shared("models/tipo-tiny")));
    private static readonly Lazy<LlamaTokenizer> s_gguf = new(() => LlamaTokenizer.FromVocabulary(GgufVocabReader.Read(TestData.Shared("models/tipo-tiny-f16.gguf"))));
    private static readonly Lazy<LlamaTokenizer> s_spm = new(() => LlamaTokenizer.FromVocabulary(GgufVocabReader.Read(TestData.Shared("tokenizer/ggml-vocab-llama-spm.gguf"))));

    private static LlamaTokenizer Tipo(string source) => source == "hf" ? s_hf.Value : s_gguf.Value;

    private static List<(string Text, int[] Ids)> TipoReference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Shared("reference/tipo-tokenize.json")));
        return doc.RootElement.EnumerateArray()
            .Select(e => (e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToList();
    }

    [TestCase("hf")]
    [TestCase("gguf")]
    public void TipoReference_MatchesLlamaCpp(string source)
    {
        var tok = Tipo(source);
        var cases = TipoReference();
        var failures = new List<string>();
        foreach ((string text, int[] ids) in cases)
        {
            var got = tok.Encode(text);
            if (!got.SequenceEqual(ids))
                failures.Add($"{JsonSerializer.Serialize(text)}\n  want {string.Join(' ', ids)}\n  got  {string.Join(' ', got)}");
        }
        Assert.That(failures, Is.Empty, $"{failures.Count}/{cases.Count} differ:\n" + string.Join("\n", failures));
        TestContext.Out.WriteLine($"{source}: {cases.Count}/{cases.Count} tipo-tokenize.json cases match");
    }

    [Test]
    public void HuggingFaceAndGguf_HaveTheSameVocabulary()
    {
        var a = s_hf.Value.Vocabulary;
        var b = s_gguf.Value.Vocabulary;
        Assert.Multiple(() =>
        {
            Assert.That(a.Tokens, Is.EqualTo(b.Tokens));
            Assert.That(a.TokenTypes, Is.EqualTo(b.TokenTypes));
            Assert.That(a.Scores, Is.EqualTo(b.Scores));
            Assert.That((a.BosId, a.EosId, a.AddBos, a.AddSpacePrefix), Is.EqualTo((b.BosId, b.EosId, b.AddBos, b.AddSpacePrefix)));
        });
    }

    [Test]
    public void LlamaCppVocabVectors_Match()
    {
        var tok = s_spm.Value;
        string inp = File.ReadAllText(TestData.Shared("tokenizer/ggml-vocab-llama-spm.gguf.inp"), Encoding.UTF8);
        string[] outLines = File.ReadAllText(TestData.Shared("tokenizer/ggml-vocab-llama-spm.gguf.out")).Split('\n');
        string[] inputs = inp.Split("\n__ggml_vocab_test__\n");
        int n = inputs.Length - 1; // the file ends with a separator
        Assert.That(n, Is.EqualTo(46));
        var failures = new List<string>();
        for (int i = 0; i < n; i++)
        {
            int[] want = outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            var got = tok.Encode(inputs[i], addBos: false, parseSpecial: false);
            if (!got.SequenceEqual(want))
                failures.Add($"#{i} {JsonSerializer.Serialize(inputs[i])}\n  want {string.Join(' ', want)}\n  got  {string.Join(' ', got)}");
        }
        Assert.That(failures, Is.Empty, $"{failures.Count}/{n} differ:\n" + string.Join("\n", failures));
    }

    [Test]
    public void Stories260K_OnceUponATime()
    {
        var tok = LlamaTokenizer.FromVocabulary(GgufVocabReader.Read(TestData.Shared("models/stories260K.gguf")));
        Assert.That(tok.VocabSize, Is.EqualTo(512));
        Assert.That(tok.Encode("Once upon a time"), Is.EqualTo(new[] { 1, 403, 407, 261, 378 }));
        Assert.That(tok.Decode([1, 403, 407, 261, 378], skipSpecial: true), Is.EqualTo("Once upon a time"));
    }

    [TestCase("hf")]
    [TestCase("gguf")]
    public void Properties_AndSpecialTokens(string source)
    {
        var tok = Tipo(source);
        Assert.Multiple(() =>
        {
            Assert.That(tok.VocabSize, Is.EqualTo(32013));
            Assert.That(tok.BosId, Is.EqualTo(1));
            Assert.That(tok.EosId, Is.EqualTo(2));
            Assert.That(tok.AddBos, Is.True);
            Assert.That(tok.TryGetSpecialTokenId("<|long|>"), Is.EqualTo(32003));
            Assert.That(tok.TryGetSpecialTokenId("<|gen_meta|>"), Is.EqualTo(32012));
            Assert.That(tok.TryGetSpecialTokenId("<|tag_to_short|>"), Is.Null);
            Assert.That(tok.TryGetSpecialTokenId("</s>"), Is.EqualTo(2));
            Assert.That(tok.TokenToPiece(32003), Is.EqualTo("<|long|>"));
            Assert.That(tok.TokenToPiece(15043), Is.EqualTo(" Hello"));
            Assert.That(tok.TokenToPiece(13), Is.EqualTo("\n"));
            Assert.That(tok.TokenToPiece(3 + 0xE2), Is.EqualTo("<0xE2>"));
            Assert.That(tok.TokenToBytes(3 + 0xE2).ToArray(), Is.EqualTo(new byte[] { 0xE2 }));
        });
    }

    [Test]
    public void Encode_NoSpecial_TreatsSpecialTextAsText()
    {
        var tok = s_gguf.Value;
        var ids = tok.Encode("target: <|long|>", addBos: false, parseSpecial: false);
        Assert.That(ids, Does.Not.Contain(32003));
        Assert.That(ids, Does.Not.Contain(1));
        Assert.That(tok.Decode(ids), Is.EqualTo("target: <|long|>"));
        Assert.That(tok.Encode("", addBos: true), Is.EqualTo(new[] { 1 }));
        Assert.That(tok.Encode("", addBos: false), Is.Empty);
    }

    [TestCase("hf")]
    [TestCase("gguf")]
    public void Decode_RoundTripsTheReference(string source)
    {
        var tok = Tipo(source);
        foreach ((string text, int[] ids) in TipoReference())
        {
            Assert.That(tok.Decode(ids), Is.EqualTo("<s>" + text), "with specials");
            Assert.That(tok.Decode(ids.Skip(1)), Is.EqualTo(text), "without BOS");
        }
    }

    [TestCase("Hello world")]
    [TestCase("  leading, double  spaces,\ttab\n\nand newlines \n")]
    [TestCase("emoji 🦙🚀😶‍🌫️ and CJK 初音ミク 我想在apple工作, café naïve, Khmer កាន់តែពិសេសអាច")]
    [TestCase("\U0001F600")]
    public void Decode_RoundTripsText(string text)
    {
        var tok = s_gguf.Value;
        Assert.That(tok.Decode(tok.Encode(text, addBos: false)), Is.EqualTo(text));
        Assert.That(tok.Decode(tok.Encode(text, addBos: true), skipSpecial: true), Is.EqualTo(text));
    }

    [Test]
    public void Decode_ByteFallback_ReassemblesUtf8()
    {
        var tok = s_gguf.Value;
        // 🦙 = F0 9F A6 99 has no piece: four byte tokens (<0xXX> is id 3 + byte).
        var ids = tok.Encode("🦙", addBos: false);
        Assert.That(ids, Is.EqualTo(new[] { 29871, 3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99 }));
        Assert.That(tok.Decode(ids), Is.EqualTo("🦙"));
        // A truncated sequence decodes to U+FFFD, not to garbage or an exception.
        Assert.That(tok.Decode([3 + 0xF0, 3 + 0x9F]), Is.EqualTo("\uFFFD"));
    }

    [Test]
    public void StreamingDecoder_HoldsPartialUtf8()
    {
        var tok = s_gguf.Value;
        var d = tok.CreateStreamingDecoder();
        Assert.That(d.Append(15043), Is.EqualTo(" Hello")); // continuation: the leading space stays
        Assert.That(d.Append(3 + 0xF0), Is.EqualTo(""));
        Assert.That(d.Append(3 + 0x9F), Is.EqualTo(""));
        Assert.That(d.Append(3 + 0xA6), Is.EqualTo(""));
        Assert.That(d.Append(3 + 0x99), Is.EqualTo("🦙"));
        Assert.That(d.Append(3 + 0xE5), Is.EqualTo(""));
        Assert.That(d.Flush(), Is.EqualTo("\uFFFD"));

        // Streaming the whole reference gives the same text as Decode.
        foreach ((string text, int[] ids) in TipoReference())
        {
            var s = tok.CreateStreamingDecoder(skipSpecial: true, atTextStart: true);
            var sb = new StringBuilder();
            foreach (int id in ids)
                sb.Append(s.Append(id));
            sb.Append(s.Flush());
            Assert.That(sb.ToString(), Is.EqualTo(tok.Decode(ids, skipSpecial: true)));
        }
        var spm = tok.Encode("tag: 初音ミク, 🎤", addBos: false);
        var chunks = new List<string>();
        var dec = tok.CreateStreamingDecoder(atTextStart: true);
        foreach (int id in spm)
            chunks.Add(dec.Append(id));
        Assert.That(chunks.All(c => !c.Contains('\uFFFD')), Is.True);
        Assert.That(string.Concat(chunks), Is.EqualTo("tag: 初音ミク, 🎤"));
    }

    [Test]
    public void Decode_SkipSpecial()
    {
        var tok = s_gguf.Value;
        var ids = tok.Encode("target: <|long|> <|tag_to_long|>\ntag: 1girl");
        Assert.That(tok.Decode(ids), Is.EqualTo("<s>target: <|long|> <|tag_to_long|>\ntag: 1girl"));
        Assert.That(tok.Decode(ids, skipSpecial: true), Is.EqualTo("target:  \ntag: 1girl"));
        Assert.That(tok.Decode([1, 15043, 2], skipSpecial: true), Is.EqualTo("Hello"));
        Assert.That(tok.Decode([1, 15043, 2]), Is.EqualTo("<s>Hello</s>"));
    }

    [Test]
    public void MissingOrCorruptFiles_ThrowModelFormatException()
    {
        string src = TestData.Shared("models/tipo-tiny");
        string dir = Path.Combine(Path.GetTempPath(), "tipo-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            foreach (string f in new[] { "tokenizer.model", "added_tokens.json", "special_tokens_map.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(src, f), Path.Combine(dir, f));

            string model = Path.Combine(dir, "tokenizer.model");
            string added = Path.Combine(dir, "added_tokens.json");

            File.WriteAllText(added, "{\"<|long|>\": ");
            var e = Assert.Throws<ModelFormatException>(() => LlamaTokenizer.FromHuggingFaceDirectory(dir))!;
            Assert.That(e.FilePath, Is.EqualTo(added));

            File.Delete(added);
            e = Assert.Throws<ModelFormatException>(() => LlamaTokenizer.FromHuggingFaceDirectory(dir))!;
            Assert.That(e.FilePath, Is.EqualTo(added));
            File.Copy(Path.Combine(src, "added_tokens.json"), added);

            byte[] bytes = File.ReadAllBytes(model);
            File.WriteAllBytes(model, bytes.AsSpan(0, bytes.Length / 2).ToArray());
            e = Assert.Throws<ModelFormatException>(() => LlamaTokenizer.FromHuggingFaceDirectory(dir))!;
            Assert.That(e.FilePath, Is.EqualTo(model));

            File.WriteAllText(model, "not a model");
            e = Assert.Throws<ModelFormatException>(() => LlamaTokenizer.FromHuggingFaceDirectory(dir))!;
            Assert.That(e.FilePath, Is.EqualTo(model));

            File.Delete(model);
            e = Assert.Throws<ModelFormatException>(() => LlamaTokenizer.FromHuggingFaceDirectory(dir))!;
            Assert.That(e.FilePath, Is.EqualTo(model));
            Assert.That(e.Message, Does.Contain("tokenizer.model"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void FromVocabulary_RejectsInconsistentArrays()
    {
        var v = new SentencePieceVocabulary(["<unk>", "<s>", "</s>"], [0f, 0f], [2, 3, 3]) { Source = "x.gguf" };
        var e = Assert.Throws<ModelFormatException>(() => LlamaTokenizer.FromVocabulary(v))!;
        Assert.That(e.FilePath, Is.EqualTo("x.gguf"));
    }
}

[TestFixture]
public class MlTokenizersBehaviourTests
{
    /// <summary>
    /// LlamaTokenizer mirrors its input because Microsoft.ML.Tokenizers 2.0.1 breaks equal-score merges toward the
    /// right. If this starts failing after a package update, the library changed: drop the mirroring in
    /// LlamaTokenizer.EncodeFragment (the vector tests will tell).
    /// </summary>
    [Test]
    public void MlTokenizers_BreaksTiesRightmost()
    {
        var vocab = GgufVocabReader.Read(TestData.Shared("tokenizer/ggml-vocab-llama-spm.gguf"));
        using var stream = new MemoryStream(SentencePieceModelProto.Write(vocab));
        var ml = Microsoft.ML.Tokenizers.SentencePieceTokenizer.Create(stream, false, false);
        var ids = ml.EncodeToIds("\u2581!!!!!!", false, false, considerPreTokenization: false, considerNormalization: false);
        Assert.That(ids, Is.EqualTo(new[] { 1738, 21004, 6824 })); // llama.cpp: 1738 6824 21004
        Assert.That(new ReferenceSpm(vocab).Tokenize("\u2581!!!!!!"), Is.EqualTo(new[] { 1738, 6824, 21004 }));
        var ours = LlamaTokenizer.FromVocabulary(vocab).Encode("!!!!!!", addBos: false);
        Assert.That(ours, Is.EqualTo(new[] { 1738, 6824, 21004 }));
    }

    [Test]
    public void ModelProto_RoundTripsThroughReader()
    {
        var vocab = GgufVocabReader.Read(TestData.Shared("models/stories260K.gguf"));
        var model = SentencePieceModelProto.Read(SentencePieceModelProto.Write(vocab), "mem");
        Assert.Multiple(() =>
        {
            Assert.That(model.Pieces, Is.EqualTo(vocab.Tokens));
            Assert.That(model.Scores, Is.EqualTo(vocab.Scores));
            Assert.That(model.Types, Is.EqualTo(vocab.TokenTypes));
            Assert.That(model.ModelType, Is.EqualTo(2));
            Assert.That(model.ByteFallback, Is.True);
            Assert.That((model.UnkId, model.BosId, model.EosId), Is.EqualTo((0, 1, 2)));
        });
    }
}

[TestFixture]
public class TokenizerLoaderTests
{
    [TestCase("models/tipo-tiny-f16.gguf")]
    [TestCase("models/tipo-tiny-q8_0.gguf")]
    [TestCase("models/tipo-tiny")]
    public void Load_MatchesTheTipoReference(string relative)
    {
        var tok = TokenizerLoader.Load(TestData.Shared(relative));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Shared("reference/tipo-tokenize.json")));
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            string text = e.GetProperty("text").GetString()!;
            int[] ids = e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray();
            Assert.That(tok.Encode(text), Is.EqualTo(ids), text);
        }
    }

    [Test]
    public void GgufFileVocabulary_EqualsTheTestReader()
    {
        string path = TestData.Shared("models/stories260K.gguf");
        using var gguf = Tipo.Models.GgufFile.Open(path);
        var a = TokenizerLoader.ReadVocabulary(gguf);
        var b = GgufVocabReader.Read(path);
        Assert.Multiple(() =>
        {
            Assert.That(a.Tokens, Is.EqualTo(b.Tokens));
            Assert.That(a.Scores, Is.EqualTo(b.Scores));
            Assert.That(a.TokenTypes, Is.EqualTo(b.TokenTypes));
            Assert.That((a.BosId, a.EosId, a.UnknownId, a.AddBos, a.AddSpacePrefix), Is.EqualTo((b.BosId, b.EosId, b.UnknownId, b.AddBos, b.AddSpacePrefix)));
        });
    }

    [Test]
    public void Load_MissingPath_Throws()
    {
        var e = Assert.Throws<ModelFormatException>(() => TokenizerLoader.Load("/nonexistent/model.gguf"))!;
        Assert.That(e.FilePath, Is.EqualTo("/nonexistent/model.gguf"));
    }
}

[TestFixture]
public class TokenizerFuzzTests
{
    private static readonly string[] s_alphabet =
    [
        " ", "  ", "!", "!!", "3", "33", ".", "a", "e", "i", "o", "t", "h", "th", "the", "in", "ing", "er", "1girl", "long", "hair",
        ",", ":", "_", "(", ")", "\\", "\n", "\t", "'", "\"", "-", "=", "~", "ö", "é", "ß", "ñ", "初", "音", "ミ", "ク", "我", "工作",
        "н", "е", "щ", "о", "ក", "ា", "ន", "់", "🦙", "🚀", "😶‍🌫️", "✅", "\u00A0", "\u200D", "\uFE0F", "<", ">", "|", "s", "/",
    ];

    [TestCase("tokenizer/ggml-vocab-llama-spm.gguf", 1)]
    [TestCase("models/tipo-tiny-f16.gguf", 2)]
    [TestCase("models/stories260K.gguf", 3)]
    public void MirroredMlTokenizers_AgreesWithAPortOfLlamaCpp(string gguf, int seed)
    {
        var vocab = GgufVocabReader.Read(TestData.Shared(gguf));
        var tok = LlamaTokenizer.FromVocabulary(vocab);
        var reference = new ReferenceSpm(vocab);
        var rng = new Random(seed);
        int mismatches = 0;
        var first = new List<string>();
        for (int n = 0; n < 3000; n++)
        {
            var sb = new StringBuilder();
            int parts = rng.Next(1, 24);
            for (int k = 0; k < parts; k++)
                sb.Append(rng.Next(4) == 0 ? new string(s_alphabet[rng.Next(s_alphabet.Length)][0], rng.Next(2, 9)) : s_alphabet[rng.Next(s_alphabet.Length)]);
            string text = sb.ToString();
            var got = tok.Encode(text, addBos: false, parseSpecial: false);
            var want = reference.Tokenize("\u2581" + text.Replace(' ', '\u2581'));
            if (!got.SequenceEqual(want))
            {
                mismatches++;
                if (first.Count < 5)
                    first.Add($"{System.Text.Json.JsonSerializer.Serialize(text)}\n  want {string.Join(' ', want)}\n  got  {string.Join(' ', got)}");
            }
        }
        Assert.That(mismatches, Is.Zero, string.Join("\n", first));
    }
}
