using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft deregister ID</c>.</summary>
internal static class DeregisterCommand
{
    public static Command Create()
    {
        var command = new Command("deregister", "Remove a service instance by its ID");
        var id = new Argument<string>("ID") { Description = "Service instance ID" };
        command.Arguments.Add(id);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var serviceId = parse.GetRequiredValue(id);
            await client.DeregisterAsync(serviceId, ct);
            output.Out.WriteLine($"Deregistered service \"{serviceId}\"");
            return ExitCodes.Success;
        }));
        return command;
    }
}
