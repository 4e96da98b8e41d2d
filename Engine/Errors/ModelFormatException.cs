namespace Tipo.Errors;

/// <summary>A model, config or tokenizer file is missing, unreadable, truncated or malformed.</summary>
public sealed class ModelFormatException : TipoException
{
    /// <summary>The file at fault.</summary>
    public string FilePath { get; }

    public ModelFormatException(string filePath, string message)
        : base($"{filePath}: {message}") => FilePath = filePath;

    public ModelFormatException(string filePath, string message, Exception inner)
        : base($"{filePath}: {message}", inner) => FilePath = filePath;
}
