using System.CommandLine;
using System.Text.Json;
using Weft.Cli.Api;
using Weft.Cli.Observe;

namespace Weft.Cli.Commands;

/// <summary><c>weft stat SERVICE</c>: one service's golden signals, callers and callees, once.</summary>
internal static class StatCommand
{
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(60);

    public static Command Create()
    {
        var command = new Command("stat", "One service's golden signals: requests/s, success rate, p50/p99, instances, top callers and callees");
        var name = new Argument<string>("SERVICE") { Description = "Service name" };
        var window = ObserveOptions.Window(DefaultWindow);
        var json = new Option<bool>("--json") { Description = "Print JSON (field names as /v1/weft/stats/{service}; see README)" };
        command.Arguments.Add(name);
        command.Options.Add(window);
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var service = parse.GetRequiredValue(name);
            var span = parse.Value(window, DefaultWindow);
            ServiceStats stats;
            try
            {
                stats = await client.GetServiceStatsAsync(service, span, ct);
            }
            catch (ServerRefusedException e) when (e.StatusCode == 404)
            {
                output.Fail($"no service \"{service}\" is registered ({e.ServerMessage}). `weft services` lists them.");
                return ExitCodes.NotFound;
            }

            stats = stats with { WindowSeconds = stats.WindowSeconds ?? span.TotalSeconds };
            if (parse.GetValue(json))
                output.Out.WriteLine(JsonSerializer.Serialize(stats, CliJsonContext.Default.ServiceStats));
            else
                output.Console.Write(StatsTables.Stat(stats, output.IsTerminal));
            return ExitCodes.Success;
        }));
        return command;
    }
}
