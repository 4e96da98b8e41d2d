namespace Tipo.Errors;

/// <summary>The device ran out of memory for a buffer or the model.</summary>
public sealed class OutOfDeviceMemoryException : TipoException
{
    public OutOfDeviceMemoryException(string message) : base(message) { }
    public OutOfDeviceMemoryException(string message, Exception inner) : base(message, inner) { }
}
