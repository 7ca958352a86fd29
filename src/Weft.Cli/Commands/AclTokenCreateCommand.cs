using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary>
/// <c>weft acl token create --service NAME</c>: prints the new token's SecretID alone on stdout, so a script can
/// capture it (<c>TOKEN=$(weft acl token create --service orders)</c>); <c>--json</c> prints Consul's token fields.
/// The server keeps only a hash of the SecretID: this is the one time it can be seen.
/// </summary>
internal static class AclTokenCreateCommand
{
    public static Command Create()
    {
        var command = new Command("create", "Create a service token and print its SecretID (shown only now)");
        var service = new Option<string>("--service") { Description = "The service the token may act for (register, stream, sign)", Required = true };
        var description = new Option<string>("--description") { Description = "Free text to tell tokens apart" };
        var json = new Option<bool>("--json") { Description = "Print the token as JSON (AccessorID, SecretID, ...) instead of the SecretID alone" };
        command.Options.Add(service);
        command.Options.Add(description);
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            using var token = await client.CreateAclTokenAsync(parse.GetRequiredValue(service), parse.GetValue(description), ct);
            if (parse.GetValue(json))
            {
                output.Out.WriteLine(ConfigCommand.Indented(token.RootElement));
                return ExitCodes.Success;
            }

            if (!token.RootElement.TryGetProperty("SecretID", out var secret) || secret.GetString() is not { Length: > 0 } value)
            {
                output.Fail("the server's answer has no SecretID");
                return ExitCodes.ServerRefused;
            }

            output.Out.WriteLine(value);
            output.Error.WriteLine($"Created token {token.RootElement.GetProperty("AccessorID").GetString()} for service {parse.GetRequiredValue(service)}; its SecretID is shown only now.");
            return ExitCodes.Success;
        }));
        return command;
    }
}
