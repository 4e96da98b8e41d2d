namespace Tipo.Errors;

/// <summary>Base of every error Tipo reports on purpose. The message names the file, field or limit at fault.</summary>
public class TipoException : Exception
{
    public TipoException(string message) : base(message) { }
    public TipoException(string message, Exception inner) : base(message, inner) { }
}
