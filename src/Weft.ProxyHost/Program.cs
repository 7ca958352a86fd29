using System.CommandLine;
using Weft.Cli.Commands;

// The sidecar-only entry: the same `weft proxy` as src/Weft.Cli, with nothing else reachable (for Native AOT).
var root = new RootCommand("weft (sidecar-only build): weft proxy");
root.Subcommands.Add(ProxyCommand.Create());
var parse = root.Parse(args);
// As CliRunner: the proxy drains on SIGTERM itself; parse errors are exit code 2.
var exitCode = await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
return parse.Errors.Count > 0 ? ExitCodes.BadInput : exitCode;
