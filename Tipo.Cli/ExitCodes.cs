using Tipo.Errors;

namespace Tipo.Cli;

/// <summary>The documented exit codes of the <c>tipo</c> command (see README).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;             // any other error
    public const int Usage = 2;               // bad command line
    public const int NoVulkan = 3;            // no Vulkan loader, or no device / no matching device
    public const int ModelFile = 4;           // model file missing, unreadable or malformed
    public const int ContextOverflow = 5;     // prompt + tokens exceed the context
    public const int OutOfDeviceMemory = 6;   // the device ran out of memory
    public const int DeviceLost = 7;          // the device was lost
    public const int Unsupported = 8;         // a model feature Tipo cannot run yet
    public const int Download = 9;            // a download failed

    public static int For(Exception e) => e switch
    {
        VulkanUnavailableException or DeviceNotFoundException => NoVulkan,
        ModelFormatException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException => ModelFile,
        ContextOverflowException => ContextOverflow,
        OutOfDeviceMemoryException => OutOfDeviceMemory,
        DeviceLostException => DeviceLost,
        UnsupportedFeatureException => Unsupported,
        DownloadException => Download,
        Tipo.Cli.UsageException => Usage,
        _ => Failure,
    };
}
