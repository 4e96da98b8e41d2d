namespace Tipo.Cli;

/// <summary>A bad command line detected after parsing (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);
