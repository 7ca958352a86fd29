using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary>The whole <c>weft</c> command line: Program.cs and the end-to-end tests both enter here.</summary>
internal static class CliRunner
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("weft: a service mesh for .NET shops and everyone else");
        CliCommands.AddAll(root);
        return root;
    }

    public static async Task<int> RunAsync(string[] args, InvocationConfiguration? configuration = null, CancellationToken ct = default)
    {
        var parse = CreateRoot().Parse(args);
        // Long-running commands (server, dev, proxy) shut down on SIGINT/SIGTERM themselves, draining as long as
        // they need; System.CommandLine's own handler would end the process after two seconds.
        var exitCode = await parse.InvokeAsync(configuration ?? new InvocationConfiguration { ProcessTerminationTimeout = null }, ct);
        // System.CommandLine reports parse errors with 1, which would read as "the server refused";
        // bad usage is 2 in weft's scheme (see Api/WeftApiClient.cs).
        return parse.Errors.Count > 0 ? ExitCodes.BadInput : exitCode;
    }
}
