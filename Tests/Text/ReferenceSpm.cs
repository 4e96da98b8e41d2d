using System.Text;
using Tipo.Text;

namespace Tipo.Tests.Text;

/// <summary>
/// Test-only, straightforward port of llama.cpp's <c>llm_tokenizer_spm_session</c> (bigram merges on UTF-8 with a
/// max-score / leftmost priority queue, then byte fallback), used to fuzz the Microsoft.ML.Tokenizers-based encoder.
/// Input: one already escaped raw-text fragment.
/// </summary>
internal sealed class ReferenceSpm
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly SentencePieceVocabulary _vocab;

    public ReferenceSpm(SentencePieceVocabulary vocab)
    {
        _vocab = vocab;
        for (int i = 0; i < vocab.Tokens.Length; i++)
            _ids[vocab.Tokens[i]] = i; // llama.cpp: last id wins
    }

    private struct Symbol
    {
        public int Prev, Next, Start, Len;
    }

    public List<int> Tokenize(string escaped)
    {
        byte[] text = Encoding.UTF8.GetBytes(escaped);
        var symbols = new List<Symbol>();
        int offs = 0, index = 0;
        while (offs < text.Length)
        {
            byte b = text[offs];
            int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            len = Math.Min(len, text.Length - offs);
            symbols.Add(new Symbol { Start = offs, Len = len, Prev = index - 1, Next = offs + len == text.Length ? -1 : index + 1 });
            offs += len;
            index++;
        }
        var sym = symbols.ToArray();
        var queue = new PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)>(
            Comparer<(float Score, int Left)>.Create((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left)));
        var revMerge = new Dictionary<string, (int, int)>(StringComparer.Ordinal);

        void TryAdd(int left, int right)
        {
            if (left == -1 || right == -1)
                return;
            string s = Encoding.UTF8.GetString(text, sym[left].Start, sym[left].Len + sym[right].Len);
            if (!_ids.TryGetValue(s, out int id))
                return;
            queue.Enqueue((left, right, sym[left].Len + sym[right].Len), (_vocab.Scores[id], left));
            revMerge[s] = (left, right);
        }

        for (int i = 1; i < sym.Length; i++)
            TryAdd(i - 1, i);
        while (queue.TryDequeue(out var bigram, out _))
        {
            ref Symbol l = ref sym[bigram.Left];
            ref Symbol r = ref sym[bigram.Right];
            if (l.Len == 0 || r.Len == 0 || l.Len + r.Len != bigram.Size)
                continue;
            l.Len += r.Len;
            r.Len = 0;
            l.Next = r.Next;
            if (r.Next >= 0)
                sym[r.Next].Prev = bigram.Left;
            TryAdd(l.Prev, bigram.Left);
            TryAdd(bigram.Left, l.Next);
        }

        var output = new List<int>();
        void Resegment(int i)
        {
            string s = Encoding.UTF8.GetString(text, sym[i].Start, sym[i].Len);
            if (_ids.TryGetValue(s, out int id))
            {
                output.Add(id);
                return;
            }
            if (!revMerge.TryGetValue(s, out var p))
            {
                for (int j = 0; j < sym[i].Len; j++)
                    output.Add(_ids[$"<0x{text[sym[i].Start + j]:X2}>"]);
                return;
            }
            Resegment(p.Item1);
            Resegment(p.Item2);
        }
        if (sym.Length > 0)
            for (int i = 0; i != -1; i = sym[i].Next)
                Resegment(i);
        return output;
    }
}
