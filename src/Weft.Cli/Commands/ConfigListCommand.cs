using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace Weft.Cli.Commands;

/// <summary><c>weft config list KIND</c>: the entries of one kind.</summary>
internal static class ConfigListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List the config entries of one kind");
        var kind = new Argument<string>("KIND") { Description = "service-defaults, service-router, service-splitter, service-resolver or service-intentions" };
        var json = new Option<bool>("--json") { Description = "Print the entries as JSON instead of a table" };
        command.Arguments.Add(kind);
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var kindName = parse.GetRequiredValue(kind);
            using var list = await client.ListConfigAsync(kindName, ct);
            if (parse.GetValue(json))
                output.Out.WriteLine(ConfigCommand.Indented(list.RootElement));
            else
                output.Console.Write(Tables.ConfigEntries(kindName, [.. list.RootElement.EnumerateArray()], output.IsTerminal));
            return ExitCodes.Success;
        }));
        return command;
    }
}
