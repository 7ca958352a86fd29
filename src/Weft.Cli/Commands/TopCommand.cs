using System.CommandLine;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Rendering;
using Weft.Cli.Api;
using Weft.Cli.Observe;

namespace Weft.Cli.Commands;

/// <summary><c>weft top</c>: services (or one service's routes) by request rate, success rate and latency, refreshed live.</summary>
internal static class TopCommand
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);

    // Shorter than stat's: a live view should follow changes within a few refreshes.
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var command = new Command("top", "Live table of services (or one service's routes) by request rate, success rate and latency");
        var service = new Option<string>("--service", "--routes") { Description = "Show the routes of this service instead of all services" };
        var sort = new Option<string>("--sort") { Description = "Order rows by rps (busiest first), success (worst first) or p99 (slowest first)", DefaultValueFactory = _ => "rps" };
        sort.AcceptOnlyFromAmong("rps", "success", "p99");
        var interval = ObserveOptions.Duration("--interval", "Time between refreshes (e.g. 2s)", DefaultInterval, TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(10));
        var window = ObserveOptions.Window(DefaultWindow);
        var once = new Option<bool>("--once") { Description = "Print one table and exit (for scripts)" };
        command.Options.Add(service);
        command.Options.Add(sort);
        command.Options.Add(interval);
        command.Options.Add(window);
        command.Options.Add(once);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var name = parse.GetValue(service);
            var order = parse.GetValue(sort) ?? "rps";
            var every = parse.Value(interval, DefaultInterval);
            var span = parse.Value(window, DefaultWindow);
            Func<Task<IRenderable>> render = name is null
                ? async () => StatsTables.Services(await client.GetStatsAsync(span, ct), order, output.IsTerminal)
                : async () => StatsTables.Routes(await client.GetServiceStatsAsync(name, span, ct), DateTimeOffset.UtcNow, order, output.IsTerminal);

            try
            {
                var first = await render();
                if (parse.GetValue(once))
                {
                    output.Console.Write(first);
                    return ExitCodes.Success;
                }
                await RunLiveAsync(output, first, render, every, ct);
                return ExitCodes.Success;
            }
            catch (ServerRefusedException e) when (e.StatusCode == 404 && name is not null)
            {
                output.Fail($"no service \"{name}\" is registered: {e.ServerMessage}. `weft services` lists them.");
                return ExitCodes.NotFound;
            }
        }));
        return command;
    }

    /// <summary>
    /// On a terminal the table is redrawn in place; redirected, each refresh is printed after the last
    /// with no cursor movement, so a log file gets readable snapshots instead of escape codes.
    /// Ctrl+C or SIGTERM ends it with exit 0: stopping is how a live view is meant to end.
    /// </summary>
    private static async Task RunLiveAsync(CliOutput output, IRenderable first, Func<Task<IRenderable>> render, TimeSpan every, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var timer = new PeriodicTimer(every);

        if (!output.IsTerminal)
        {
            output.Console.Write(first);
            while (await Tick(timer, stop.Token))
            {
                output.Out.WriteLine();
                output.Console.Write(await render());
            }
            return;
        }

        await output.Console.Live(first).AutoClear(false).StartAsync(async live =>
        {
            while (await Tick(timer, stop.Token))
            {
                live.UpdateTarget(await render());
                live.Refresh();
            }
        });
    }

    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
