using System.CommandLine;
using Tipo.Cli;
using Tipo.Cli.Commands;

var root = new RootCommand("tipo: TIPO prompt expansion and LLaMA inference on any Vulkan GPU.");
// One line per command; each command lives in Commands/<Name>Command.cs.
root.Subcommands.Add(DevicesCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(LogitsCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(ExpandCommand.Create());
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(DownloadCommand.Create());
root.Subcommands.Add(ModelsCommand.Create());
root.Subcommands.Add(FuzzCommand.Create());
root.Subcommands.Add(SoakCommand.Create());

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    foreach (var error in parsed.Errors)
        await Console.Error.WriteLineAsync($"tipo: {error.Message}").ConfigureAwait(false);
    await Console.Error.WriteLineAsync("Run 'tipo --help' for usage.").ConfigureAwait(false);
    return ExitCodes.Usage;
}

try
{
    // Errors are reported here, one line naming the file, field or limit, with a documented exit code.
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    await Console.Error.WriteLineAsync($"tipo: error: {e.Message}").ConfigureAwait(false);
    return ExitCodes.For(e);
}
