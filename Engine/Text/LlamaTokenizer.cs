using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using Tipo.Errors;

namespace Tipo.Text;

/// <summary>
/// The LLaMA SentencePiece tokenizer with TIPO's added tokens, producing exactly the ids of llama.cpp's
/// <c>llama_tokenize</c> (SPM path). Microsoft.ML.Tokenizers' SentencePiece BPE does the merges inside each
/// raw-text fragment; this class adds what llama.cpp does around it:
/// <list type="bullet">
/// <item>special-token splitting (control, user-defined and unknown pieces, longest first; control and unknown ones only when <c>parseSpecial</c>),</item>
/// <item>the SentencePiece space prefix on the first fragment and on every fragment that follows a special token,</item>
/// <item>BOS (when both the caller and the vocabulary ask for it), never EOS,</item>
/// <item>decoding with byte-fallback reassembly into UTF-8.</item>
/// </list>
/// Thread-safe after construction.
/// </summary>
public sealed class LlamaTokenizer
{
    private const char SpaceMark = '\u2581'; // ▁

    private readonly SentencePieceVocabulary _vocab;
    private readonly SentencePieceTokenizer _sp;
    private readonly (int Id, string Text, bool Control)[] _splitTokens; // longest first
    private readonly Dictionary<string, int> _specialByText;
    private readonly byte[][] _pieceBytes; // what each token decodes to (control: its text)

    private LlamaTokenizer(SentencePieceVocabulary vocab)
    {
        Validate(vocab);
        _vocab = vocab;

        // The model handed to Microsoft.ML.Tokenizers has every piece but the byte pieces reversed (see EncodeFragment).
        // It also needs unique piece strings; llama.cpp maps a duplicated text to its last id, SentencePiece forbids
        // duplicates. Keep the first and hide later ones (they can still be decoded).
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string[] protoTokens = new string[vocab.Tokens.Length];
        int[] protoTypes = (int[])vocab.TokenTypes.Clone();
        for (int i = 0; i < protoTokens.Length; i++)
        {
            protoTokens[i] = protoTypes[i] == TokenType.Byte ? vocab.Tokens[i] : ReverseRunes(vocab.Tokens[i]);
            if (!seen.Add(protoTokens[i]))
            {
                protoTokens[i] = $"\u0001<duplicate {i}>";
                protoTypes[i] = TokenType.Unused;
            }
        }
        byte[] proto = SentencePieceModelProto.Write(vocab with { Tokens = protoTokens, TokenTypes = protoTypes });
        try
        {
            using var stream = new MemoryStream(proto, writable: false);
            _sp = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new ModelFormatException(vocab.Source, "the tokenizer vocabulary is not usable: " + e.Message, e);
        }

        var split = new List<(int, string, bool)>();
        _specialByText = new Dictionary<string, int>(StringComparer.Ordinal);
        _pieceBytes = new byte[vocab.Tokens.Length][];
        for (int id = 0; id < vocab.Tokens.Length; id++)
        {
            string text = vocab.Tokens[id];
            int type = vocab.TokenTypes[id];
            if (type is TokenType.Control or TokenType.UserDefined or TokenType.Unknown && text.Length > 0)
            {
                split.Add((id, text, type != TokenType.UserDefined));
                _specialByText.TryAdd(text, id);
            }
            _pieceBytes[id] = type switch
            {
                TokenType.Byte when TryParseByte(text, out byte b) => [b],
                TokenType.Control or TokenType.Unknown or TokenType.UserDefined => Encoding.UTF8.GetBytes(text),
                TokenType.Unused => [], // llama.cpp's token_to_piece prints nothing for unused pieces
                _ => Encoding.UTF8.GetBytes(text.Replace(SpaceMark, ' ')),
            };
        }
        // llama.cpp sorts by length, longest first; ties keep id order here.
        _splitTokens = split.OrderByDescending(t => t.Item2.Length).ThenBy(t => t.Item1).ToArray();
    }

    /// <summary>Number of token ids (base pieces plus added tokens).</summary>
    public int VocabSize => _vocab.Tokens.Length;

    /// <summary>Beginning-of-sequence id (<c>&lt;s&gt;</c>).</summary>
    public int BosId => _vocab.BosId;

    /// <summary>End-of-sequence id (<c>&lt;/s&gt;</c>).</summary>
    public int EosId => _vocab.EosId;

    /// <summary>Whether the model asks for BOS at the start of every prompt.</summary>
    public bool AddBos => _vocab.AddBos;

    /// <summary>Whether raw text gets SentencePiece's space prefix (at the start and after each special token).</summary>
    public bool AddSpacePrefix => _vocab.AddSpacePrefix;

    /// <summary>The vocabulary this tokenizer was built from.</summary>
    public SentencePieceVocabulary Vocabulary => _vocab;

    /// <summary>Builds a tokenizer from a vocabulary (the GGUF path: <c>tokenizer.ggml.*</c>).</summary>
    public static LlamaTokenizer FromVocabulary(SentencePieceVocabulary vocab)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        return new LlamaTokenizer(vocab);
    }

    /// <summary>
    /// Loads a Hugging Face tokenizer directory as TIPO ships it: <c>tokenizer.model</c> plus <c>added_tokens.json</c>,
    /// with token types, BOS/EOS and <c>add_bos_token</c> from <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>
    /// when present. Token types follow llama.cpp's <c>convert_hf_to_gguf.py</c>, so the result tokenizes like the GGUF.
    /// </summary>
    public static LlamaTokenizer FromHuggingFaceDirectory(string dir) => FromVocabulary(HuggingFaceTokenizerFiles.Load(dir));

    /// <summary>
    /// Tokenizes <paramref name="text"/> like llama.cpp's <c>llama_tokenize(text, add_special: addBos, parse_special: parseSpecial)</c>.
    /// BOS is prepended when <paramref name="addBos"/> and the vocabulary's <see cref="AddBos"/> are both true.
    /// With <paramref name="parseSpecial"/>, control-token texts such as <c>&lt;|long|&gt;</c> or <c>&lt;s&gt;</c> become their ids;
    /// user-defined tokens are always split out.
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool addBos = true, bool parseSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 2);
        if (addBos && _vocab.AddBos)
            output.Add(_vocab.BosId);
        if (text.Length == 0)
            return output;
        text = ReplaceLoneSurrogates(text);

        bool prevSpecial = true; // the first fragment gets the prefix too
        var raw = new StringBuilder();
        foreach (Fragment f in Partition(text, parseSpecial))
        {
            if (f.TokenId >= 0)
            {
                output.Add(f.TokenId);
                prevSpecial = true;
                continue;
            }
            raw.Clear();
            if (_vocab.AddSpacePrefix && prevSpecial)
                raw.Append(SpaceMark);
            raw.Append(text, f.Start, f.Length).Replace(' ', SpaceMark);
            EncodeFragment(raw.ToString(), output);
            prevSpecial = false;
        }
        return output;
    }

    /// <summary>
    /// Turns ids back into text. Byte-fallback pieces are reassembled into UTF-8 (an incomplete or invalid sequence becomes U+FFFD).
    /// Special tokens (control, user-defined, unknown) appear as their text, or not at all with <paramref name="skipSpecial"/>
    /// (user-defined tokens are ordinary text and always appear). Mirroring <see cref="Encode"/>, the one space that the
    /// SentencePiece prefix put at the start and after each special token is removed, so
    /// <c>Decode(Encode(s, addBos: false))</c> gives back <c>s</c>.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var decoder = new StreamingDecoder(this, skipSpecial, atTextStart: true);
        var sb = new StringBuilder();
        foreach (int id in ids)
            sb.Append(decoder.Append(id));
        sb.Append(decoder.Flush());
        return sb.ToString();
    }

    /// <summary>
    /// A decoder for tokens as they are generated: <see cref="StreamingDecoder.Append"/> returns only complete UTF-8 text;
    /// a partial byte-fallback sequence waits for its next byte. With <paramref name="atTextStart"/> false (the default,
    /// for a continuation of a prompt) the first token keeps its leading space.
    /// </summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecial = false, bool atTextStart = false)
        => new(this, skipSpecial, atTextStart);

    /// <summary>
    /// The text of one token as llama.cpp's <c>llama_token_to_piece(special: true)</c> gives it: <c>▁</c> as space,
    /// special tokens as their text, a byte token as its character when it is ASCII and as <c>&lt;0xXX&gt;</c> otherwise
    /// (use <see cref="TokenToBytes"/> for the raw byte).
    /// </summary>
    public string TokenToPiece(int id)
    {
        CheckId(id);
        if (_vocab.TokenTypes[id] == TokenType.Byte && _pieceBytes[id] is [>= 0x80])
            return _vocab.Tokens[id];
        return Encoding.UTF8.GetString(_pieceBytes[id]);
    }

    /// <summary>The UTF-8 bytes one token stands for (a byte token: its one byte; a special token: its text).</summary>
    public ReadOnlySpan<byte> TokenToBytes(int id)
    {
        CheckId(id);
        return _pieceBytes[id];
    }

    /// <summary>The id of a special (control, user-defined or unknown) token by its exact text, e.g. <c>&lt;|long|&gt;</c>; null if there is none.</summary>
    public int? TryGetSpecialTokenId(string text)
        => text is not null && _specialByText.TryGetValue(text, out int id) ? id : null;

    /// <summary>Whether the id is a special token: control (BOS, EOS, TIPO's added tokens) or unknown.</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)VocabSize && _vocab.TokenTypes[id] is TokenType.Control or TokenType.Unknown;

    internal int TokenTypeOf(int id) => _vocab.TokenTypes[id];

    internal byte[] PieceBytes(int id) => _pieceBytes[id];

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id out of range [0, {VocabSize})");
    }

    private readonly record struct Fragment(int TokenId, int Start, int Length);

    /// <summary>llama.cpp's <c>tokenizer_st_partition</c>: each special token, longest first, splits every remaining raw fragment.</summary>
    private List<Fragment> Partition(string text, bool parseSpecial)
    {
        var fragments = new List<Fragment> { new(-1, 0, text.Length) };
        foreach ((int id, string special, bool control) in _splitTokens)
        {
            if (!parseSpecial && control)
                continue;
            for (int i = 0; i < fragments.Count; i++)
            {
                Fragment f = fragments[i];
                if (f.TokenId >= 0 || f.Length < special.Length)
                    continue;
                int end = f.Start + f.Length;
                int match = text.IndexOf(special, f.Start, f.Length, StringComparison.Ordinal);
                if (match < 0)
                    continue;
                var replacement = new List<Fragment>();
                int pos = f.Start;
                while (match >= 0)
                {
                    if (match > pos)
                        replacement.Add(new Fragment(-1, pos, match - pos));
                    replacement.Add(new Fragment(id, match, special.Length));
                    pos = match + special.Length;
                    match = end - pos >= special.Length ? text.IndexOf(special, pos, end - pos, StringComparison.Ordinal) : -1;
                }
                if (pos < end)
                    replacement.Add(new Fragment(-1, pos, end - pos));
                fragments.RemoveAt(i);
                fragments.InsertRange(i, replacement);
                i += replacement.Count - 1;
            }
        }
        return fragments;
    }

    /// <summary>
    /// SentencePiece BPE on one escaped raw-text fragment, as llama.cpp's <c>llm_tokenizer_spm_session</c> does it.
    /// </summary>
    /// <remarks>
    /// Microsoft.ML.Tokenizers 2.0.1 runs the same bigram algorithm as SentencePiece and llama.cpp except for one thing:
    /// when two candidate merges have the same score it takes the rightmost (its <c>SymbolPair.CompareTo</c> orders by
    /// <c>other.Left.CompareTo(Left)</c>), where SentencePiece and llama.cpp take the leftmost. That changes runs such as
    /// <c>"!!!!!!"</c> (llama.cpp: <c>▁! !! !!!</c>; ML: <c>▁! !!! !!</c>). Mirroring the problem fixes it: the model given to
    /// ML has every piece reversed, the fragment is fed reversed (by code point), so ML's rightmost is llama.cpp's
    /// leftmost and each merge is the mirror image of llama.cpp's; the tokens are then put back in order. The byte
    /// pieces of one unknown character share one offset and keep their order.
    /// <c>MlTokenizers_BreaksTiesRightmost</c> in the tests pins this behaviour of the library.
    /// </remarks>
    private void EncodeFragment(string escaped, List<int> output)
    {
        string reversed = ReverseRunes(escaped);
        IReadOnlyList<EncodedToken> tokens = _sp.EncodeToTokens(reversed, out _, addBeginningOfSentence: false, addEndOfSentence: false,
            considerPreTokenization: false, considerNormalization: false);
        int end = tokens.Count;
        while (end > 0)
        {
            int start = end - 1;
            int offset = tokens[start].Offset.Start.Value;
            while (start > 0 && tokens[start - 1].Offset.Start.Value == offset)
                start--;
            for (int k = start; k < end; k++)
                output.Add(tokens[k].Id);
            end = start;
        }
    }

    /// <summary>
    /// llama.cpp tokenizes UTF-8, where an unpaired UTF-16 surrogate cannot exist: encoding it gives U+FFFD.
    /// Do the same up front so that merges see U+FFFD (LLaMA even has a piece for two of them).
    /// </summary>
    private static string ReplaceLoneSurrogates(string s)
    {
        int i = 0;
        for (; i < s.Length; i++)
        {
            if (char.IsSurrogate(s[i]) && !(char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])))
                break;
            if (char.IsHighSurrogate(s[i]))
                i++;
        }
        if (i == s.Length)
            return s;
        var sb = new StringBuilder(s.Length);
        for (i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(c).Append(s[++i]);
            }
            else
            {
                sb.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return sb.ToString();
    }

    /// <summary>Reverses a string by code point (a surrogate pair stays in order).</summary>
    private static string ReverseRunes(string s)
    {
        if (s.Length < 2)
            return s;
        return string.Create(s.Length, s, static (dst, src) =>
        {
            int j = dst.Length;
            for (int i = 0; i < src.Length; i++)
            {
                if (char.IsHighSurrogate(src[i]) && i + 1 < src.Length && char.IsLowSurrogate(src[i + 1]))
                {
                    j -= 2;
                    dst[j] = src[i];
                    dst[j + 1] = src[++i];
                }
                else
                {
                    dst[--j] = src[i];
                }
            }
        });
    }

    private static bool TryParseByte(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }

    private static void Validate(SentencePieceVocabulary v)
    {
        string src = v.Source;
        if (v.Tokens is null || v.Scores is null || v.TokenTypes is null)
            throw new ModelFormatException(src, "tokenizer vocabulary is missing tokens, scores or token types");
        int n = v.Tokens.Length;
        if (n == 0)
            throw new ModelFormatException(src, "tokenizer vocabulary is empty");
        if (v.Scores.Length != n || v.TokenTypes.Length != n)
            throw new ModelFormatException(src, $"tokenizer vocabulary has {n} tokens but {v.Scores.Length} scores and {v.TokenTypes.Length} token types");
        if ((uint)v.BosId >= (uint)n || (uint)v.EosId >= (uint)n || (uint)v.UnknownId >= (uint)n)
            throw new ModelFormatException(src, $"BOS {v.BosId}, EOS {v.EosId} or unknown {v.UnknownId} id is outside the vocabulary of {n}");
        for (int i = 0; i < n; i++)
        {
            if (v.Tokens[i] is null)
                throw new ModelFormatException(src, $"token {i} has no text");
        }
        // Byte fallback in Microsoft.ML.Tokenizers maps byte b to id(<0x00>) + b: the 256 byte pieces must be in order.
        int first = Array.IndexOf(v.Tokens, "<0x00>");
        if (first >= 0)
        {
            for (int b = 0; b < 256; b++)
            {
                int id = first + b;
                if (id >= n || v.Tokens[id] != $"<0x{b:X2}>" || v.TokenTypes[id] != TokenType.Byte)
                    throw new ModelFormatException(src, $"byte-fallback pieces <0x00>..<0xFF> are not consecutive byte tokens (at <0x{b:X2}>)");
            }
        }
    }
}
