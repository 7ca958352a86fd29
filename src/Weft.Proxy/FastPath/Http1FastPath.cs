using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Listeners;
using Weft.Proxy.Metrics;
using Weft.Proxy.Observability;
using Weft.Proxy.Routing;

namespace Weft.Proxy.FastPath;

/// <summary>
/// The HTTP/1.1 fast path of the outbound and per-upstream listeners: connection middleware that forwards plain
/// HTTP/1.1 requests to instances registered without a sidecar byte for byte, before Kestrel's HTTP parser, over its
/// own pooled upstream connections. It takes a request only when nothing of the layered path
/// (<see cref="Forwarding.RequestPipeline"/>) would read more than the request line and Host: one catch-all route, no
/// rewrite, plain <c>http</c>, no hash balancer, and instances that are all direct (<see cref="ClusterBinding.Http1Direct"/>:
/// forwarded byte for byte) or all sidecars (<see cref="ClusterBinding.Http1Sidecars"/>: sent over h2 as the layered path
/// would, through the same <see cref="System.Net.Http.HttpMessageInvoker"/>). Anything
/// else hands the connection to Kestrel at that request's first byte, and the layered path serves it and every later
/// request of the connection, as before.
/// </summary>
internal sealed class Http1FastPath(MeshConfig config, TimeProvider time, ProxyMetrics metrics, ProxyTracing? tracing, ILogger log, bool engine = false) : IDisposable
{
    /// <summary>Kestrel's defaults: how long a keep-alive connection may idle, and a started head may take to arrive.</summary>
    public static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(130);
    public static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(30);

    public MeshConfig Config => config;
    public TimeProvider Time => time;
    public bool Count { get; } = metrics.Enabled;
    public ProxyTracing? Tracing => tracing;
    public ILogger Log => log;
    public UpstreamPools Pools { get; } = new(time, engine);

    private long _connections;
    private long _fallBacks;
    private volatile bool _draining;

    /// <summary>Whether the sidecar is draining: every response from now on closes its connection.</summary>
    public bool Draining => _draining;

    /// <summary>Called by the host when it starts to drain, before its listeners stop accepting.</summary>
    public void BeginDrain() => _draining = true;

    /// <summary>Client connections the fast path has read, and those of them it handed to Kestrel at some request.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    public long FallBacks => Interlocked.Read(ref _fallBacks);

    public Task ServeAsync(ConnectionContext connection, Listener listener, ConnectionDelegate next)
    {
        Interlocked.Increment(ref _connections);
        return new FastConnection(this, connection, listener).RunAsync(next);
    }

    public void FellBack() => Interlocked.Increment(ref _fallBacks);

    /// <summary>The route and cluster of a request the fast path may carry; false when the layered path must decide.</summary>
    public static bool TryResolve(RouteTable table, Listener listener, ReadOnlySpan<byte> host, out Route route, out ClusterBinding binding)
    {
        route = null!;
        binding = null!;
        UpstreamRoutes? upstream;
        if (listener.Kind == ListenerKind.Upstream)
        {
            if (!table.TryGetUpstream(listener.Name, out upstream))
                return false;
        }
        else
        {
            if (host.Length > 256)
                return false;
            Span<char> chars = stackalloc char[host.Length];
            if (Encoding.ASCII.GetChars(host, chars) != host.Length)
                return false;
            ReadOnlySpan<char> name = chars;
            var colon = name.LastIndexOf(':');
            if (colon >= 0 && name.IndexOf(']') < colon)
                name = name[..colon];
            if (!table.TryGetUpstream(name, out upstream))
                return false;
        }

        if (upstream.Protocol != Protocols.Http)
            return false;
        route = upstream.Routes[0];
        if (!route.Match.MatchesEverything || route.Action.PrefixRewrite is not null)
            return false;
        binding = route.Action.Pick().Binding;
        return (binding.Http1Direct || binding.Http1Sidecars && Sidecars) && !binding.Endpoints.IsEmpty;
    }

    /// <summary>
    /// Whether requests to services behind sidecars take the fast path (to the next sidecar over h2, see
    /// <c>FastConnection.Sidecar.cs</c>); <c>WEFT_FAST_PATH_SIDECARS=0</c> leaves them to the layered path, to compare.
    /// </summary>
    public static bool Sidecars { get; } = Environment.GetEnvironmentVariable("WEFT_FAST_PATH_SIDECARS") != "0";

    private long _sidecarExchanges;

    /// <summary>Attempts the fast path sent to another sidecar (h2 through the transport's invoker).</summary>
    public long SidecarExchanges => Interlocked.Read(ref _sidecarExchanges);

    public void SidecarExchange() => Interlocked.Increment(ref _sidecarExchanges);

    private long _sidecarH2Exchanges;

    /// <summary>Of <see cref="SidecarExchanges"/>, those sent through Weft's own HTTP/2 client (the default; not with <c>WEFT_FAST_H2=0</c>).</summary>
    public long SidecarH2Exchanges => Interlocked.Read(ref _sidecarH2Exchanges);

    public void SidecarH2Exchange()
    {
        Interlocked.Increment(ref _sidecarExchanges);
        Interlocked.Increment(ref _sidecarH2Exchanges);
    }

    public void Dispose() => Pools.Dispose();
}
