using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft config read KIND NAME</c>: the stored entry as JSON.</summary>
internal static class ConfigReadCommand
{
    public static Command Create()
    {
        var command = new Command("read", "Print a config entry as JSON");
        var kind = new Argument<string>("KIND") { Description = "service-defaults, service-router, service-splitter, service-resolver or service-intentions" };
        var name = new Argument<string>("NAME") { Description = "The entry's name (the service it configures)" };
        command.Arguments.Add(kind);
        command.Arguments.Add(name);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            using var entry = await client.ReadConfigAsync(parse.GetRequiredValue(kind), parse.GetRequiredValue(name), ct);
            output.Out.WriteLine(ConfigCommand.Indented(entry.RootElement));
            return ExitCodes.Success;
        }));
        return command;
    }
}
