namespace Tipo.Text;

/// <summary>llama.cpp's token types (GGUF <c>tokenizer.ggml.token_type</c>, same numbers as SentencePiece's piece types).</summary>
public static class TokenType
{
    public const int Normal = 1;
    public const int Unknown = 2;
    public const int Control = 3;
    public const int UserDefined = 4;
    public const int Unused = 5;
    public const int Byte = 6;
}

/// <summary>
/// A LLaMA SentencePiece (BPE, byte fallback) vocabulary as GGUF stores it: pieces (with <c>▁</c> for space),
/// scores and llama.cpp token types, indexed by token id. <see cref="LlamaTokenizer.FromVocabulary"/> builds a tokenizer from it.
/// </summary>
/// <param name="Tokens">Piece text per id (<c>tokenizer.ggml.tokens</c>).</param>
/// <param name="Scores">Merge score per id (<c>tokenizer.ggml.scores</c>).</param>
/// <param name="TokenTypes">Type per id (<c>tokenizer.ggml.token_type</c>, see <see cref="TokenType"/>).</param>
/// <param name="BosId">Beginning-of-sequence id (<c>tokenizer.ggml.bos_token_id</c>, LLaMA: 1).</param>
/// <param name="EosId">End-of-sequence id (<c>tokenizer.ggml.eos_token_id</c>, LLaMA: 2).</param>
/// <param name="UnknownId">Unknown id (<c>tokenizer.ggml.unknown_token_id</c>, LLaMA: 0).</param>
/// <param name="AddBos">Whether encoding prepends BOS by default (<c>tokenizer.ggml.add_bos_token</c>, default true).</param>
/// <param name="AddSpacePrefix">SentencePiece's dummy prefix (<c>tokenizer.ggml.add_space_prefix</c>, default true).</param>
public sealed record SentencePieceVocabulary(
    string[] Tokens,
    float[] Scores,
    int[] TokenTypes,
    int BosId = 1,
    int EosId = 2,
    int UnknownId = 0,
    bool AddBos = true,
    bool AddSpacePrefix = true)
{
    /// <summary>Where the vocabulary came from, for error messages (a file path, or a description).</summary>
    public string Source { get; init; } = "(vocabulary)";
}
