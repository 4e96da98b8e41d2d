using System.CommandLine;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo devices</c>: lists every Vulkan device.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var command = new Command("devices", "List every Vulkan device and its limits.");
        command.SetAction(_ =>
        {
            Console.WriteLine("not implemented yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
