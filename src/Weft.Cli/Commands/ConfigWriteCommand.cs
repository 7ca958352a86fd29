using System.CommandLine;
using Weft.Cli.Api;

namespace Weft.Cli.Commands;

/// <summary><c>weft config write FILE</c>: one entry from JSON or YAML, sent as Consul's JSON.</summary>
internal static class ConfigWriteCommand
{
    public static Command Create()
    {
        var command = new Command("write", "Create or update a config entry from a JSON or YAML file");
        var file = new Argument<string>("FILE") { Description = "Config entry file (JSON or YAML), or - for stdin" };
        command.Arguments.Add(file);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var read = await ConfigFile.ReadAsync(parse.GetRequiredValue(file), Console.In, ct);
            if (read.Error is { } error)
            {
                output.Fail(error);
                return ExitCodes.BadInput;
            }

            if (!await client.WriteConfigAsync(read.Json!, ct))
            {
                output.Fail($"config entry {read.Kind}/{read.Name} was not written");
                return ExitCodes.ServerRefused;
            }

            output.Out.WriteLine($"Config entry written: {read.Kind}/{read.Name}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
