using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Weft.Cli.Dev;
using Weft.Core.Text;
using Weft.Server.Hosting;

namespace Weft.Cli.Commands;

/// <summary>
/// <c>weft dev</c>: an open control plane on a throw-away store, with a demo service whose health check flaps,
/// so a newcomer sees registration and health checking working in one command. Ctrl-C stops everything.
/// </summary>
internal static class DevCommand
{
    public static Command Create()
    {
        var httpAddr = new Option<string>("--http-addr") { Description = "HOST:PORT of the HTTP API", DefaultValueFactory = _ => "127.0.0.1:8500" };
        var command = new Command("dev", "Run Weft on this machine with a demo service (no token, temporary store)");
        command.Options.Add(httpAddr);
        command.SetAction(async (parse, ct) =>
        {
            if (!ListenAddress.TryParse(parse.GetValue(httpAddr), out var endpoint, out var error))
            {
                await Console.Error.WriteLineAsync($"weft dev: --http-addr: {error}");
                return ExitCodes.BadInput;
            }

            return await RunAsync(endpoint, ct);
        });
        return command;
    }

    /// <summary>Redraws the live view every two seconds; appends instead when the output is not a terminal.</summary>
    private static async Task RenderUntilShutdownAsync(WeftServer server, DemoView view, string intro)
    {
        var window = TimeSpan.FromSeconds(2);
        var shutdown = server.WaitForShutdownAsync(CancellationToken.None);
        using var timer = new PeriodicTimer(window);
        view.Render(window);
        while (await Task.WhenAny(shutdown, timer.WaitForNextTickAsync().AsTask()) != shutdown)
        {
            var frame = view.Render(window);
            if (Console.IsOutputRedirected) Console.WriteLine(frame);
            else Console.Write($"\u001b[H\u001b[2J{intro}\n{frame}");
        }
    }

    private static async Task<int> RunAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-dev-").FullName;
        try
        {
            WeftServer server;
            try
            {
                server = await WeftServer.StartAsync(new ServerOptions
                {
                    DataDir = dataDir,
                    HttpEndpoint = endpoint,
                    // Sidecars find the stream through /v1/agent/self, so any free port does.
                    GrpcEndpoint = new System.Net.IPEndPoint(endpoint.Address, 0),
                    NodeName = "dev",
                    DevOpen = true,
                    // A newcomer's demo services call each other without writing intentions first.
                    IntentionsDefaultAllow = true,
                    LogLevel = LogLevel.Warning,
                }, ct);
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync($"weft dev: cannot listen on {endpoint}: {e.Message}. Is another weft (or Consul) running? Try --http-addr 127.0.0.1:0");
                return 1;
            }

            await using (server)
            await using (var demo = await FlappingService.StartAsync(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(10)))
            {
                var api = server.HttpAddress.ToString().TrimEnd('/');
                using (var http = new HttpClient { BaseAddress = server.HttpAddress })
                {
                    // Registered through the public API, exactly as a user's service would be.
                    var registration = new
                    {
                        ID = "demo-1",
                        Name = "demo",
                        Tags = new[] { "v1" },
                        Address = "127.0.0.1",
                        Port = demo.Port,
                        Check = new { HTTP = $"http://127.0.0.1:{demo.Port}/health", Interval = "2s", Timeout = "1s" },
                    };
                    using var response = await http.PutAsJsonAsync("/v1/agent/service/register", registration, ct);
                    response.EnsureSuccessStatusCode();
                }

                await using var mesh = await MeshDemo.StartAsync(server.HttpAddress, requestsPerSecond: 50);
                var intro = $"""
                    weft dev is running (Ctrl-C stops everything it started)

                      dashboard       {api}/ui/   (services, live traffic, topology, checks, config)
                      control plane   {api}   (ACLs OFF: development only)
                      store           {dataDir}   (temporary, removed on exit)
                      mesh demo       frontend -> orders -> payments, 2 instances each, each with its sidecar
                                      (payments-2 fails 1 request in 5; retries and outlier detection keep callers green)
                                      load: 50 req/s into frontend through a sidecar
                      frontend        through a sidecar: curl -H 'Host: frontend' http://{mesh.Sidecars["loadgen"][0].Host.OutboundAddress}/
                      admin           e.g. http://{mesh.Sidecars["orders"][0].Host.AdminAddress}/clusters (an orders sidecar)
                      demo service    "demo" at 127.0.0.1:{demo.Port}, no sidecar, HTTP check every 2s on /health
                                      healthy for 20s, failing for 10s, round and round

                    Try, in another terminal:
                      ./weft top                 (live: services by request rate, success rate, latency)
                      ./weft stat orders         (one service's golden signals; --json)
                      ./weft check               (is this installation healthy, and what to fix)
                      ./weft services
                      ./weft instances demo
                      curl -s '{api}/v1/health/service/demo?passing'
                      curl -s '{api}/v1/health/service/demo?index=1&wait=30s'   (a blocking query)
                      ./weft config read service-router payments
                    """;
                Console.WriteLine(intro);
                await RenderUntilShutdownAsync(server, new DemoView(mesh), intro);
            }

            Console.WriteLine("weft dev: stopped");
            return ExitCodes.Success;
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
