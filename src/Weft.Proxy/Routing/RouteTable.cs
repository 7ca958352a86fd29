using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net.Http;
using Weft.Core.Mesh;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Metrics;
using Weft.Proxy.Resilience;

namespace Weft.Proxy.Routing;

/// <summary>Upstream protocols, as in <c>service-defaults</c> <c>Protocol</c>.</summary>
internal static class Protocols
{
    public const string Http = "http";
    public const string Http2 = "http2";
    public const string Grpc = "grpc";
    public const string Tcp = "tcp";

    public static bool SpeaksHttp2(string protocol) => protocol is Http2 or Grpc;
}

/// <summary>
/// Everything the request path needs from one applied snapshot, compiled and immutable. Swapped whole by
/// <see cref="MeshConfig"/>; readers take one reference per request and never lock.
/// </summary>
internal sealed record RouteTable
{
    public required ulong Version { get; init; }
    public required DateTimeOffset CompiledAt { get; init; }

    /// <summary>Upstream service name (case-insensitive) → its routes.</summary>
    public required FrozenDictionary<string, UpstreamRoutes> Upstreams { get; init; }

    /// <summary>Traffic arriving on the inbound listener: to the local app.</summary>
    public required UpstreamRoutes Inbound { get; init; }

    public required ImmutableArray<ClusterBinding> Clusters { get; init; }

    /// <summary>Who may call this sidecar's service (inbound listener only).</summary>
    public required InboundIntentions Intentions { get; init; }

    public bool TryGetUpstream(ReadOnlySpan<char> name, out UpstreamRoutes routes) =>
        Upstreams.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out routes!);
}

/// <summary>Calls to one upstream service: its routes in order, the last one the catch-all to the service itself.</summary>
internal sealed record UpstreamRoutes
{
    public required string Service { get; init; }
    public required string Protocol { get; init; }
    public required ImmutableArray<Route> Routes { get; init; }

    public bool IsTcp => Protocol == Protocols.Tcp;

    /// <summary>Where a raw TCP connection goes: the catch-all route's first target.</summary>
    public ClusterBinding DefaultCluster => Routes[^1].Action.Targets[0].Binding;
}

internal sealed record Route
{
    public required string Name { get; init; }
    public required RouteMatch Match { get; init; }
    public required RouteAction Action { get; init; }
    public required RouteStats Stats { get; init; }
}

/// <summary>What a matched route does: split, rewrite, time out, retry.</summary>
internal sealed record RouteAction
{
    /// <summary>Cumulative weights: pick the first target whose <see cref="SplitTarget.UpTo"/> exceeds a uniform draw in [0, 100).</summary>
    public required ImmutableArray<SplitTarget> Targets { get; init; }

    public string? PrefixRewrite { get; init; }

    /// <summary>The part of the path <see cref="PrefixRewrite"/> replaces: the matched prefix, or the whole exact path.</summary>
    public string? RewrittenPrefix { get; init; }

    public TimeSpan? RequestTimeout { get; init; }
    public TimeSpan? PerTryTimeout { get; init; }
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    public SplitTarget Pick()
    {
        var targets = Targets;
        if (targets.Length == 1)
            return targets[0];
        var draw = Random.Shared.NextDouble() * 100;
        foreach (var t in targets)
        {
            if (draw < t.UpTo)
                return t;
        }

        return targets[^1];
    }
}

internal sealed record SplitTarget(double UpTo, ClusterBinding Binding);

/// <summary>
/// One cluster — (service, subset) — as this snapshot sees it: the long-lived <see cref="Cluster"/>, breaker and retry
/// budget, plus this snapshot's protocol, connection pools and endpoint addresses.
/// </summary>
internal sealed record ClusterBinding
{
    public required string Name { get; init; }
    public required string Service { get; init; }
    public string? Subset { get; init; }
    public required string Protocol { get; init; }
    public required Cluster Cluster { get; init; }
    public required RequestLimiter Limiter { get; init; }
    public required RetryBudget Budget { get; init; }
    public required ClusterSettings Settings { get; init; }
    public required TimeSpan ConnectTimeout { get; init; }
    public TimeSpan? RequestTimeout { get; init; }
    public required HttpMessageInvoker DirectInvoker { get; init; }
    public required HttpMessageInvoker SidecarInvoker { get; init; }

    /// <summary>The own HTTP/2 client's pool to this cluster's sidecars, when <see cref="Hosting.ProxyOptions.FastH2"/> is on.</summary>
    public Transport.SidecarH2Pool? SidecarH2 { get; init; }
    public required ImmutableArray<MeshEndpoint> Endpoints { get; init; }

    /// <summary>
    /// Plain HTTP/1.1 to instances registered without a sidecar, balanced without reading the request (no hash policy)
    /// and with no connection limit: what the HTTP/1.1 fast path may carry. Sidecar hops stay on h2 (mTLS).
    /// </summary>
    public bool Http1Direct { get; init; }

    /// <summary>
    /// Plain HTTP/1.1 from the app to a service whose instances all have sidecars, balanced without reading the request:
    /// the fast path may carry it to the next sidecar over <see cref="SidecarInvoker"/> (h2 over mTLS), as the layered
    /// path would. A connection limit is kept by that invoker's pool, so it does not exclude the binding.
    /// </summary>
    public bool Http1Sidecars { get; init; }

    /// <summary>Endpoints of the service before the subset filter, for error messages.</summary>
    public required int ServiceEndpointCount { get; init; }

    /// <summary>Endpoint id → <c>http://host:port</c>, built once per snapshot so the request path does not format strings.</summary>
    public required FrozenDictionary<string, string> Prefixes { get; init; }

    public string PrefixFor(MeshEndpoint endpoint) =>
        Prefixes.TryGetValue(endpoint.Id, out var prefix) ? prefix : "http://" + endpoint.HostPort;
}
