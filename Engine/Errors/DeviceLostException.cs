namespace Tipo.Errors;

/// <summary>The Vulkan device was lost while work was running.</summary>
public sealed class DeviceLostException : TipoException
{
    public DeviceLostException(string message) : base(message) { }
    public DeviceLostException(string message, Exception inner) : base(message, inner) { }
}
