using System.Text;

namespace Tipo.Text;

/// <summary>
/// Decodes token ids one at a time into text, emitting only complete UTF-8: the bytes of a character split across
/// byte-fallback tokens are held until its last byte arrives. Not thread-safe; one per stream.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly LlamaTokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly List<byte> _pending = new(8);
    private bool _stripSpace; // the next text piece loses one leading space (the SentencePiece prefix)

    internal StreamingDecoder(LlamaTokenizer tokenizer, bool skipSpecial, bool atTextStart)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
        _stripSpace = atTextStart && tokenizer.AddSpacePrefix;
    }

    /// <summary>Adds one token; returns the text that is now complete (possibly empty).</summary>
    public string Append(int id)
    {
        if ((uint)id >= (uint)_tokenizer.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id out of range [0, {_tokenizer.VocabSize})");
        int type = _tokenizer.TokenTypeOf(id);
        byte[] bytes = _tokenizer.PieceBytes(id);
        switch (type)
        {
            case TokenType.Control or TokenType.Unknown or TokenType.UserDefined:
                _stripSpace = _tokenizer.AddSpacePrefix;
                if (_skipSpecial && type != TokenType.UserDefined)
                    return "";
                _pending.AddRange(bytes);
                break;
            case TokenType.Byte:
                _stripSpace = false;
                _pending.AddRange(bytes);
                break;
            default:
                int start = _stripSpace && bytes.Length > 0 && bytes[0] == (byte)' ' ? 1 : 0;
                _stripSpace = false;
                for (int i = start; i < bytes.Length; i++)
                    _pending.Add(bytes[i]);
                break;
        }
        return TakeComplete();
    }

    /// <summary>Returns whatever is held back (an incomplete UTF-8 sequence becomes U+FFFD) and empties the buffer.</summary>
    public string Flush()
    {
        if (_pending.Count == 0)
            return "";
        string s = Encoding.UTF8.GetString(_pending.ToArray());
        _pending.Clear();
        return s;
    }

    private string TakeComplete()
    {
        int n = _pending.Count;
        if (n == 0)
            return "";
        int keep = IncompleteTailLength();
        if (keep == n)
            return "";
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
        string s = Encoding.UTF8.GetString(span[..(n - keep)]);
        _pending.RemoveRange(0, n - keep);
        return s;
    }

    /// <summary>How many bytes at the end start a multi-byte UTF-8 character that still lacks continuation bytes.</summary>
    private int IncompleteTailLength()
    {
        int n = _pending.Count;
        for (int back = 1; back <= Math.Min(3, n); back++)
        {
            byte b = _pending[n - back];
            if ((b & 0xC0) == 0x80)
                continue; // continuation byte: look further back for the lead
            int need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            return need > back ? back : 0;
        }
        return 0;
    }
}
