using System.CommandLine;
using Tipo.Models;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo info --model PATH [--tensors]</c>: describes a model file without loading it onto a device.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A GGUF file or a Hugging Face model directory.", Required = true };
        var tensors = new Option<bool>("--tensors") { Description = "List every tensor's name, type and shape." };
        var command = new Command("info", "Show a model's architecture, configuration and tensors.");
        command.Options.Add(model);
        command.Options.Add(tensors);
        command.SetAction(parseResult =>
        {
            // System.CommandLine's default exception handler would print a stack trace and exit 1;
            // report Tipo's errors the documented way instead.
            try
            {
                using var m = LlamaModelFile.Open(parseResult.GetValue(model)!);
                ModelInfo.Write(Console.Out, m, parseResult.GetValue(tensors));
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is Tipo.Errors.TipoException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"tipo: error: {e.Message}");
                return ExitCodes.For(e);
            }
        });
        return command;
    }
}
