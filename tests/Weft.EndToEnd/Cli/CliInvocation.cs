using System.CommandLine;
using System.Diagnostics;
using Weft.Cli.Commands;

namespace Weft.EndToEnd.Cli;

/// <summary>What a user sees from one <c>weft</c> command: its exit code and both streams.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

internal static class CliInvocation
{
    /// <summary>Runs the CLI in-process through the same entry point as Program.cs.</summary>
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exitCode = await CliRunner.RunAsync(args, new InvocationConfiguration { Output = stdout, Error = stderr });
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the built weft.dll as a child process with stdout redirected, as a pipe would.</summary>
    public static Task<CliResult> RunProcessAsync(string? stdin, params string[] args) =>
        RunProcessAsync(stdin, new Dictionary<string, string>(), args);

    /// <param name="environment">Variables set for the child, e.g. WEFT_HTTP_ADDR.</param>
    public static async Task<CliResult> RunProcessAsync(string? stdin, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "weft.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        // A terminal-looking environment, so a plain result proves redirection alone decides it.
        start.Environment["TERM"] = "xterm-256color";
        start.Environment["COLORTERM"] = "truecolor";
        start.Environment.Remove("NO_COLOR");
        start.Environment.Remove("WEFT_HTTP_ADDR");
        start.Environment.Remove("WEFT_ACL_TOKEN");
        foreach (var (name, value) in environment)
            start.Environment[name] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
            await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
