using System.Diagnostics;

namespace Tipo.Tests;

/// <summary>Runs the built <c>tipo</c> CLI (tipo.dll next to the tests) as a child process.</summary>
internal static class TipoCli
{
    /// <summary>
    /// Runs <c>dotnet tipo.dll args...</c>. <paramref name="env"/> sets variables (a null value removes one);
    /// <paramref name="stdin"/> is written to standard input, which is closed either way. Fails the test when the
    /// process outlives <paramref name="timeoutSeconds"/> (and kills it).
    /// </summary>
    public static (int Code, string Out, string Err) Run(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null,
        string? stdin = null, int timeoutSeconds = 120)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "tipo.dll"));
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        foreach (var (name, value) in env ?? new Dictionary<string, string?>())
        {
            if (value is null)
                psi.Environment.Remove(name);
            else
                psi.Environment[name] = value;
        }
        using var process = Process.Start(psi)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (stdin != null)
            process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"tipo {string.Join(' ', args)} did not exit within {timeoutSeconds} s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <inheritdoc cref="Run(IEnumerable{string}, IReadOnlyDictionary{string, string?}?, string?, int)"/>
    public static (int Code, string Out, string Err) Run(params string[] args) => Run(args, null);
}
