namespace Tipo.Errors;

/// <summary>Prompt plus requested tokens exceed the context the model was loaded with.</summary>
public sealed class ContextOverflowException : TipoException
{
    public ContextOverflowException(string message) : base(message) { }
    public ContextOverflowException(string message, Exception inner) : base(message, inner) { }
}
