using System.Net;
using System.Net.Http.Json;
using Weft.Proxy.Hosting;
using Weft.Proxy.Sidecar;

namespace Weft.Cli.Dev;

/// <summary>
/// The demo mesh of <c>weft dev</c>: <c>frontend → orders → payments</c>, two instances each, every instance with
/// its sidecar; <c>payments-2</c> fails a fifth of its requests. Retries and outlier detection are configured
/// through the same config entries a user would write, so callers stay green.
/// </summary>
internal sealed class MeshDemo : IAsyncDisposable
{
    public static readonly string[] Services = ["frontend", "orders", "payments"];

    private readonly List<IAsyncDisposable> _owned = [];

    private MeshDemo()
    {
    }

    /// <summary>Every sidecar, by the service it stands beside; the load generator's is under "loadgen".</summary>
    public Dictionary<string, List<SidecarRunner>> Sidecars { get; } = [];

    public LoadGenerator Load { get; } = new();

    public static async Task<MeshDemo> StartAsync(Uri server, int requestsPerSecond)
    {
        var demo = new MeshDemo();
        try
        {
            using (var http = new HttpClient { BaseAddress = server })
            {
                foreach (var entry in ConfigEntries)
                {
                    using var response = await http.PutAsync("/v1/config", new StringContent(entry, System.Text.Encoding.UTF8, "application/json"));
                    response.EnsureSuccessStatusCode();
                }
            }

            for (var i = Services.Length - 1; i >= 0; i--)
            {
                var service = Services[i];
                var next = i + 1 < Services.Length ? Services[i + 1] : null;
                for (var n = 1; n <= 2; n++)
                {
                    var failureRate = service == "payments" && n == 2 ? 0.2 : 0;
                    // The app needs its sidecar's outbound address and the sidecar needs the app's port: reserve it first.
                    var outbound = new IPEndPoint(IPAddress.Loopback, FreePort());
                    var app = await DemoApp.StartAsync($"{service}-{n}", next, outbound, failureRate);
                    demo._owned.Add(app);
                    await demo.AddSidecarAsync(server, service, $"{service}-{n}", app.Port, outbound);
                }
            }

            var loadgen = await demo.AddSidecarAsync(server, "loadgen", "loadgen-1", appPort: 1, new IPEndPoint(IPAddress.Loopback, 0));
            demo.Load.Start(loadgen.Host.OutboundAddress, "frontend", requestsPerSecond);
            return demo;
        }
        catch
        {
            await demo.DisposeAsync();
            throw;
        }
    }

    private async Task<SidecarRunner> AddSidecarAsync(Uri server, string service, string instance, int appPort, IPEndPoint outbound)
    {
        var sidecar = await SidecarRunner.StartAsync(new SidecarOptions
        {
            Server = server,
            CheckHttpPath = service == "loadgen" ? null : "/health",
            CheckInterval = TimeSpan.FromSeconds(2),
            Proxy = new ProxyOptions
            {
                ServiceName = service,
                InstanceId = instance,
                AppAddress = new IPEndPoint(IPAddress.Loopback, appPort),
                InboundAddress = new IPEndPoint(IPAddress.Loopback, 0),
                OutboundAddress = outbound,
                AdminAddress = new IPEndPoint(IPAddress.Loopback, 0),
                DrainTime = TimeSpan.FromSeconds(1),
            },
        });
        _owned.Add(sidecar);
        if (!Sidecars.TryGetValue(service, out var list)) Sidecars[service] = list = [];
        list.Add(sidecar);
        return sidecar;
    }

    /// <summary>
    /// Retries on 5xx and resets for every demo service, outlier detection in every caller, and round robin for
    /// payments: at the demo's 50 req/s the latency-aware default sends nearly every request to whichever instance
    /// answered faster last (two endpoints, almost never one outstanding), so payments-2 and its failures, which the demo
    /// is there to show, would hardly be seen.
    /// </summary>
    private static IEnumerable<string> ConfigEntries =>
        Services.Select(s => $$$"""{"Kind":"service-router","Name":"{{{s}}}","Routes":[{"Destination":{"NumRetries":2,"RetryOnConnectFailure":true,"RetryOn":["5xx","reset","connect-failure"],"RequestTimeout":"5s"}}]}""")
            .Concat(new[] { "loadgen", "frontend", "orders" }.Select(s =>
                $$$"""{"Kind":"service-defaults","Name":"{{{s}}}","Protocol":"http","UpstreamConfig":{"Defaults":{"PassiveHealthCheck":{"MaxFailures":3,"Interval":"5s","BaseEjectionTime":"10s","MaxEjectionPercent":50} } } }"""))
            .Append("""{"Kind":"service-resolver","Name":"payments","LoadBalancer":{"Policy":"round_robin"}}""");

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await Load.DisposeAsync();
        // Sidecars first, all at once (each drains for its DrainTime and deregisters: one after another that was seven
        // drains in a row, tens of seconds on a busy machine), then the apps they stood beside.
        await Task.WhenAll(_owned.OfType<SidecarRunner>().Select(s => s.DisposeAsync().AsTask()));
        await Task.WhenAll(_owned.Where(o => o is not SidecarRunner).Select(o => o.DisposeAsync().AsTask()));
    }
}
