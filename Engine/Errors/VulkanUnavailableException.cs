namespace Tipo.Errors;

/// <summary>No Vulkan loader, or the loader found no usable driver.</summary>
public sealed class VulkanUnavailableException : TipoException
{
    public VulkanUnavailableException(string message) : base(message) { }
    public VulkanUnavailableException(string message, Exception inner) : base(message, inner) { }
}
