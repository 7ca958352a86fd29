using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace Weft.Cli.Commands;

/// <summary><c>weft ca roots|rotate</c>: the mesh's certificate authority, as <c>consul connect ca</c>.</summary>
internal static class CaCommands
{
    public static Command Create()
    {
        var command = new Command("ca", "The mesh's certificate authority: list its roots, rotate the active one");
        command.Subcommands.Add(Roots());
        command.Subcommands.Add(Rotate());
        return command;
    }

    private static Command Roots()
    {
        var command = new Command("roots", "List the trusted roots (the active one signs new workload certificates)");
        var json = new Option<bool>("--json") { Description = "Print GET /v1/connect/ca/roots as JSON instead of a table" };
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            using var roots = await client.GetCaRootsAsync(ct);
            Print(roots.RootElement, parse.GetValue(json), output);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Rotate()
    {
        var command = new Command("rotate", "Make a new root active; the old one cross-signs it and stays trusted until its certificates expire");
        var json = new Option<bool>("--json") { Description = "Print the roots after the rotation as JSON" };
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            using var before = await client.GetCaRootsAsync(ct);
            var previous = Text(before.RootElement, "ActiveRootID");
            await client.RotateCaAsync(ct);
            using var after = await client.GetCaRootsAsync(ct);
            if (!parse.GetValue(json))
                output.Out.WriteLine($"rotated: the active root is now {Text(after.RootElement, "ActiveRootID")}; {previous} stays trusted until the certificates it signed expire");
            Print(after.RootElement, parse.GetValue(json), output);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static void Print(JsonElement roots, bool json, CliOutput output)
    {
        if (json)
        {
            output.Out.WriteLine(ConfigCommand.Indented(roots));
            return;
        }

        output.Out.WriteLine($"trust domain {Text(roots, "TrustDomain")}");
        var table = new Table { Border = output.IsTerminal ? TableBorder.Rounded : TableBorder.None };
        foreach (var header in new[] { "ID", "NAME", "ACTIVE", "NOT BEFORE", "NOT AFTER", "INTERMEDIATES" })
            table.AddColumn(new TableColumn(new Text(header)) { NoWrap = true });
        foreach (var root in roots.GetProperty("Roots").EnumerateArray())
        {
            table.AddRow(
                new Text(Text(root, "ID")),
                new Text(Text(root, "Name")),
                new Text(root.TryGetProperty("Active", out var active) && active.ValueKind == JsonValueKind.True ? "yes" : "no"),
                new Text(Text(root, "NotBefore")),
                new Text(Text(root, "NotAfter")),
                new Text(root.TryGetProperty("IntermediateCerts", out var i) && i.ValueKind == JsonValueKind.Array ? i.GetArrayLength().ToString(System.Globalization.CultureInfo.InvariantCulture) : "0"));
        }

        output.Console.Write(table);
    }

    private static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : value.GetRawText() : "";
}
