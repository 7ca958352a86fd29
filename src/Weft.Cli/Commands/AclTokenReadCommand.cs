using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft acl token read ACCESSOR</c>: one token as JSON, without its secret.</summary>
internal static class AclTokenReadCommand
{
    public static Command Create()
    {
        var command = new Command("read", "Print a token as JSON (its SecretID cannot be shown: the server keeps only a hash)");
        var accessor = new Argument<string>("ACCESSOR") { Description = "The token's AccessorID" };
        command.Arguments.Add(accessor);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            using var token = await client.ReadAclTokenAsync(parse.GetRequiredValue(accessor), ct);
            output.Out.WriteLine(ConfigCommand.Indented(token.RootElement));
            return ExitCodes.Success;
        }));
        return command;
    }
}
