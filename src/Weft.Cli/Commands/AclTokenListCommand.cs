using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft acl token list</c>: every token, without secrets.</summary>
internal static class AclTokenListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List the tokens (management and service), without their secrets");
        var json = new Option<bool>("--json") { Description = "Print the tokens as JSON instead of a table" };
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            using var list = await client.ListAclTokensAsync(ct);
            if (parse.GetValue(json))
                output.Out.WriteLine(ConfigCommand.Indented(list.RootElement));
            else
                output.Console.Write(Tables.AclTokens([.. list.RootElement.EnumerateArray()], output.IsTerminal));
            return ExitCodes.Success;
        }));
        return command;
    }
}
