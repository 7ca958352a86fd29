using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Weft.Cli.Api;
using Weft.Cli.Observe;

namespace Weft.Cli.Commands;

/// <summary><c>weft check</c>: pre-flight and health of an installation, one line per check, with the fix for each red one.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var command = new Command("check", "Check the installation: server, token, CA and trust bundle, every sidecar's version, config and certificate");
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var report = await new InstallationCheck(client, TimeProvider.System).RunAsync(ct);
            if (parse.GetValue(json))
                output.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.CheckReport));
            else
                Print(report, output);
            return report.Ok ? ExitCodes.Success : ExitCodes.CheckFailed;
        }));
        return command;
    }

    private static void Print(CheckReport report, CliOutput output)
    {
        string? category = null;
        foreach (var line in report.Checks)
        {
            if (line.Category != category)
            {
                if (category is not null) output.Out.WriteLine();
                category = line.Category;
                output.Out.WriteLine(Heading(category));
            }
            output.Console.Write(new Text(Mark(line.Status, output.IsTerminal), new Style(Color(line.Status))));
            output.Console.WriteLine($" {line.Name}: {line.Detail}", Style.Plain);
            if (line.Fix is { } fix)
                output.Console.WriteLine($"    fix: {fix}", new Style(Spectre.Console.Color.Red));
        }
        output.Out.WriteLine();
        var failed = report.Checks.Count(l => l.Status == CheckLine.Fail);
        output.Out.WriteLine(failed == 0 ? "Status check results are all green." : $"{failed} check{(failed == 1 ? "" : "s")} failed; fix the lines marked above and run weft check again.");
    }

    private static string Heading(string category) => category switch
    {
        "server" => "weft server",
        "acl" => "acl",
        "ca" => "certificate authority",
        _ => "sidecars",
    };

    // A terminal gets linkerd's marks; a pipe or log gets words grep can find.
    private static string Mark(string status, bool terminal) => (status, terminal) switch
    {
        (CheckLine.Ok, true) => "✔",
        (CheckLine.Fail, true) => "✘",
        (CheckLine.Warn, true) => "‼",
        (_, true) => "-",
        (CheckLine.Ok, false) => "[ok]",
        (CheckLine.Fail, false) => "[FAIL]",
        (CheckLine.Warn, false) => "[warn]",
        _ => "[skip]",
    };

    private static Color Color(string status) => status switch
    {
        CheckLine.Ok => Spectre.Console.Color.Green,
        CheckLine.Fail => Spectre.Console.Color.Red,
        CheckLine.Warn => Spectre.Console.Color.Yellow,
        _ => Spectre.Console.Color.Grey,
    };
}
