using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft acl token delete ACCESSOR</c>: the token stops working, and the streams opened with it close.</summary>
internal static class AclTokenDeleteCommand
{
    public static Command Create()
    {
        var command = new Command("delete", "Delete a token; sidecars streaming with it are disconnected");
        var accessor = new Argument<string>("ACCESSOR") { Description = "The token's AccessorID" };
        command.Arguments.Add(accessor);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var id = parse.GetRequiredValue(accessor);
            await client.DeleteAclTokenAsync(id, ct);
            output.Out.WriteLine($"Token deleted: {id}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
