using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft config delete KIND NAME</c>.</summary>
internal static class ConfigDeleteCommand
{
    public static Command Create()
    {
        var command = new Command("delete", "Delete a config entry");
        var kind = new Argument<string>("KIND") { Description = "service-defaults, service-router, service-splitter, service-resolver or service-intentions" };
        var name = new Argument<string>("NAME") { Description = "The entry's name" };
        command.Arguments.Add(kind);
        command.Arguments.Add(name);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var (k, n) = (parse.GetRequiredValue(kind), parse.GetRequiredValue(name));
            await client.DeleteConfigAsync(k, n, ct);
            output.Out.WriteLine($"Config entry deleted: {k}/{n}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
