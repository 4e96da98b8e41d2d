namespace Tipo.Errors;

/// <summary>A model uses something this version of Tipo cannot run yet (a tensor type, a RoPE scaling kind).</summary>
public sealed class UnsupportedFeatureException : TipoException
{
    public UnsupportedFeatureException(string message) : base(message) { }
    public UnsupportedFeatureException(string message, Exception inner) : base(message, inner) { }
}
