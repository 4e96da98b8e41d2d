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

try
{
    return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    await Console.Error.WriteLineAsync($"tipo: error: {e.Message}").ConfigureAwait(false);
    return ExitCodes.For(e);
}
