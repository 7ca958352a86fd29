using System.CommandLine;
using Weft.Cli.Api;

namespace Weft.Cli.Commands;

/// <summary><c>weft register FILE.json</c>: the Consul registration JSON, sent as written.</summary>
internal static class RegisterCommand
{
    public static Command Create()
    {
        var command = new Command("register", "Register a service from a Consul service registration JSON file");
        var file = new Argument<string>("FILE") { Description = "Registration JSON file, or - for stdin" };
        command.Arguments.Add(file);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var path = parse.GetRequiredValue(file);
            var read = await RegistrationFile.ReadAsync(path, Console.In, ct);
            if (read.Error is { } error)
            {
                output.Fail(error);
                return ExitCodes.BadInput;
            }
            await client.RegisterAsync(read.Json!, ct);
            output.Out.WriteLine($"Registered service \"{read.ServiceId}\"");
            return ExitCodes.Success;
        }));
        return command;
    }
}
