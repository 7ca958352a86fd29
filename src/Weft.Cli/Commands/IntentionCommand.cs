using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary>
/// <c>weft intention allow|deny|delete|list|check</c>: who may call whom, as Consul's <c>consul intention</c>. SRC and
/// DST are service names, or <c>*</c> for any.
/// </summary>
internal static class IntentionCommand
{
    /// <summary><c>check</c>'s answer for a denied connection, as <c>consul intention check</c> (errors keep their own codes).</summary>
    public const int Denied = 2;

    public static Command Create()
    {
        var command = new Command("intention", "Allow, deny, delete, list and check intentions (service-intentions entries)");
        command.Subcommands.Add(Write("allow", "Allow SRC to call DST", "allow", "Allowed"));
        command.Subcommands.Add(Write("deny", "Deny SRC calling DST", "deny", "Denied"));
        command.Subcommands.Add(Delete());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Check());
        return command;
    }

    private static (Argument<string> Source, Argument<string> Destination) Names(Command command)
    {
        var source = new Argument<string>("SRC") { Description = "The calling service, or * for any" };
        var destination = new Argument<string>("DST") { Description = "The called service, or * for any" };
        command.Arguments.Add(source);
        command.Arguments.Add(destination);
        return (source, destination);
    }

    private static Command Write(string name, string description, string action, string done)
    {
        var command = new Command(name, description);
        var (source, destination) = Names(command);
        var api = ApiOptions.AddTo(command);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var (s, d) = (parse.GetRequiredValue(source), parse.GetRequiredValue(destination));
            await client.PutIntentionAsync(s, d, action, ct);
            output.Out.WriteLine($"{done}: {s} => {d}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Delete()
    {
        var command = new Command("delete", "Delete the intention SRC => DST");
        var (source, destination) = Names(command);
        var api = ApiOptions.AddTo(command);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var (s, d) = (parse.GetRequiredValue(source), parse.GetRequiredValue(destination));
            await client.DeleteIntentionAsync(s, d, ct);
            output.Out.WriteLine($"Intention deleted: {s} => {d}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List every intention, highest precedence first");
        var json = new Option<bool>("--json") { Description = "Print the intentions as JSON instead of a table" };
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            using var list = await client.ListIntentionsAsync(ct);
            if (parse.GetValue(json))
                output.Out.WriteLine(ConfigCommand.Indented(list.RootElement));
            else
                output.Console.Write(Tables.Intentions([.. list.RootElement.EnumerateArray()], output.IsTerminal));
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Check()
    {
        var command = new Command("check", $"Say whether SRC may connect to DST: exit 0 when allowed, {Denied} when denied");
        var (source, destination) = Names(command);
        var api = ApiOptions.AddTo(command);
        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var allowed = await client.CheckIntentionAsync(parse.GetRequiredValue(source), parse.GetRequiredValue(destination), ct);
            output.Out.WriteLine(allowed ? "Allowed" : "Denied");
            return allowed ? ExitCodes.Success : Denied;
        }));
        return command;
    }
}
