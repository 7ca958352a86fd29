using System.CommandLine;
using System.Text.Json;
using Weft.Cli.Api;

namespace Weft.Cli.Commands;

/// <summary><c>weft instances NAME</c>: each instance of one service with its checks.</summary>
internal static class InstancesCommand
{
    public static Command Create()
    {
        var command = new Command("instances", "List the instances of a service with their health checks");
        var name = new Argument<string>("NAME") { Description = "Service name" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        command.Arguments.Add(name);
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var service = parse.GetRequiredValue(name);
            var instances = (await client.GetServiceHealthAsync(service, ct)).Select(CliViews.ToInstance).ToList();
            if (parse.GetValue(json))
                output.Out.WriteLine(JsonSerializer.Serialize(instances, CliJsonContext.Default.ListInstanceView));
            else if (instances.Count == 0)
                // Consul answers an unknown service with an empty list, not 404: the query worked.
                output.Out.WriteLine($"No instances of service \"{service}\" are registered.");
            else
                output.Console.Write(Tables.Instances(instances, output.IsTerminal));
            return ExitCodes.Success;
        }));
        return command;
    }
}
