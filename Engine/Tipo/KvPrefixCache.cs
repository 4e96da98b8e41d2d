namespace Tipo.Expansion;

/// <summary>
/// Bookkeeping for KV-cache prefix reuse across the model calls of one request (for <see cref="ITipoLanguageModel"/>
/// implementations): remembers the token sequence whose keys/values are in the cache, and tells how many leading tokens
/// of the next sequence can be kept. At least one prompt token is always re-evaluated, so the next token's logits exist.
/// </summary>
public sealed class KvPrefixCache
{
    private readonly List<int> _tokens = [];

    /// <summary>The tokens whose keys/values are in the cache, in position order.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>
    /// How many leading tokens of <paramref name="prompt"/> (BOS included) already sit in the cache: the common prefix
    /// with <see cref="Tokens"/>, at most <c>prompt.Length − 1</c>. The caller evaluates the rest from that position.
    /// </summary>
    public int Reusable(ReadOnlySpan<int> prompt)
    {
        int n = Math.Min(_tokens.Count, prompt.Length - 1);
        int i = 0;
        while (i < n && _tokens[i] == prompt[i])
            i++;
        return Math.Max(i, 0);
    }

    /// <summary>Drops cached tokens from <paramref name="length"/> on (after <see cref="Reusable"/>).</summary>
    public void Truncate(int length)
    {
        if (length < _tokens.Count)
            _tokens.RemoveRange(length, _tokens.Count - length);
    }

    /// <summary>Records tokens written to the cache at the end.</summary>
    public void Append(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens)
            _tokens.Add(t);
    }

    /// <summary>Records one token written to the cache at the end.</summary>
    public void Append(int token) => _tokens.Add(token);

    /// <summary>Forgets everything (a new request, or the cache was cleared).</summary>
    public void Clear() => _tokens.Clear();
}
