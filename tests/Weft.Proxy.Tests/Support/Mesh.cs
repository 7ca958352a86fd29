using System.Collections.Immutable;
using System.Net;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Hosting;
using Weft.Proxy.Security;

namespace Weft.Proxy.Tests.Support;

/// <summary>Builds the snapshots the control plane would send, and proxies on loopback with OS-chosen ports.</summary>
internal static class Mesh
{
    public static MeshEndpoint Endpoint(string id, IPEndPoint address, bool sidecar = false, params (string Key, string Value)[] meta)
    {
        var m = ImmutableSortedDictionary.CreateBuilder<string, string>();
        foreach (var (k, v) in meta)
            m[k] = v;
        if (sidecar)
            m[MeshMeta.Sidecar] = "true";
        return new MeshEndpoint { Id = id, Node = "node-" + id, Address = address.Address.ToString(), Port = address.Port, Meta = m.ToImmutable() };
    }

    /// <summary>A snapshot with default-allow intentions (tests of intentions turn it off with <c>with</c>).</summary>
    public static MeshSnapshot Snapshot(ulong version, IEnumerable<(string Service, MeshEndpoint[] Endpoints)> services, params ConfigEntry[] entries) => new()
    {
        Version = version,
        IntentionsDefaultAllow = true,
        Endpoints = services.ToImmutableDictionary(s => s.Service, s => s.Endpoints.ToImmutableArray()),
        Entries = entries.ToImmutableDictionary(e => (e.Kind, e.Name), e => e),
    };

    public static ServiceDefaultsEntry Defaults(string service, string? protocol = null, UpstreamConfig? upstreams = null) =>
        new() { Kind = ConfigKinds.ServiceDefaults, Name = service, Protocol = protocol, UpstreamConfig = upstreams };

    /// <summary>A service-router whose one route takes every request (<c>PathPrefix: /</c>) to <paramref name="destination"/>.</summary>
    public static ServiceRouterEntry Router(string service, ServiceRouteDestination destination) => new()
    {
        Kind = ConfigKinds.ServiceRouter,
        Name = service,
        Routes = [new ServiceRoute { Match = new ServiceRouteMatch { Http = new ServiceRouteHttpMatch { PathPrefix = "/" } }, Destination = destination }],
    };

    public static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    /// <summary>A proxy that lets every caller in until a snapshot says otherwise; see <see cref="ProxyOptions.IntentionsDefaultAllow"/>.</summary>
    public static Task<ProxyHost> ProxyAsync(string service, IPEndPoint app, params string[] upstreams) => ProxyAsync(service, app, defaultAllow: true, upstreams);

    public static Task<ProxyHost> ProxyAsync(string service, IPEndPoint app, bool defaultAllow, params string[] upstreams) =>
        ProxyHost.StartAsync(Options(service, app, upstreams) with { IntentionsDefaultAllow = defaultAllow });

    /// <summary>A proxy with a workload identity: its inbound listener speaks only mTLS, its calls to sidecars go over mTLS.</summary>
    public static Task<ProxyHost> SecureProxyAsync(WorkloadTls workload, string service, IPEndPoint app, params string[] upstreams) =>
        ProxyHost.StartAsync(Options(service, app, upstreams) with { Workload = workload, Time = workload.Time });

    /// <summary>The options of a test proxy: loopback listeners on free ports, every caller let in until a snapshot says otherwise.</summary>
    public static ProxyOptions Options(string service, IPEndPoint app, params string[] upstreams) =>
        new ProxyOptions
        {
            IntentionsDefaultAllow = true,
            ServiceName = service,
            InstanceId = service + "-1",
            AppAddress = app,
            InboundAddress = AnyLoopback,
            OutboundAddress = AnyLoopback,
            AdminAddress = AnyLoopback,
            Upstreams = upstreams.ToImmutableDictionary(u => u, _ => AnyLoopback),
            DrainTime = TimeSpan.FromSeconds(1),
            LoggerFactory = Environment.GetEnvironmentVariable("WEFT_TEST_LOG") is null ? null
                : Microsoft.Extensions.Logging.LoggerFactory.Create(b => Microsoft.Extensions.Logging.FilterLoggingBuilderExtensions.AddFilter(Microsoft.Extensions.Logging.ConsoleLoggerExtensions.AddConsole(b), l => true)),
        };

    /// <summary>An app address nobody listens on, for proxies whose inbound side the test does not use.</summary>
    public static IPEndPoint NoApp => new(IPAddress.Loopback, 9);

    /// <summary>A loopback address with nothing listening: a port the OS just handed out, and took back, so a connect is refused.</summary>
    public static IPEndPoint FreeAddress()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return (IPEndPoint)listener.LocalEndpoint;
    }

    public static HttpClient Client(IPEndPoint address, string? host = null)
    {
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://{address}") };
        if (host is not null)
            client.DefaultRequestHeaders.Host = host;
        return client;
    }
}

