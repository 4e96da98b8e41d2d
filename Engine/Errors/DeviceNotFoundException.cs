namespace Tipo.Errors;

/// <summary>No Vulkan device matches the requested selector.</summary>
public sealed class DeviceNotFoundException : TipoException
{
    public DeviceNotFoundException(string message) : base(message) { }
    public DeviceNotFoundException(string message, Exception inner) : base(message, inner) { }
}
