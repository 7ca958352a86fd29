using System.Text.Json.Serialization;
using Weft.Core.Text;

namespace Weft.Core.Config;

/// <summary>The config-entry kinds Weft understands, with Consul's names.</summary>
public static class ConfigKinds
{
    public const string ServiceDefaults = "service-defaults";
    public const string ServiceRouter = "service-router";
    public const string ServiceSplitter = "service-splitter";
    public const string ServiceResolver = "service-resolver";
    public const string ServiceIntentions = "service-intentions";

    public static readonly IReadOnlyList<string> All = [ServiceDefaults, ServiceRouter, ServiceSplitter, ServiceResolver, ServiceIntentions];
}

/// <summary>
/// A traffic-policy config entry, with Consul's kinds and field names (PascalCase JSON) and Envoy's semantics.
/// <c>Name</c> is the service the entry configures. Durations are Go strings ("5s") on the wire.
/// </summary>
public abstract record ConfigEntry
{
    public required string Kind { get; init; }
    public required string Name { get; init; }
    public Dictionary<string, string>? Meta { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

/// <summary>
/// <c>service-defaults</c>: the service's protocol, and the settings its sidecar applies to the upstreams it
/// calls (<c>UpstreamConfig.Defaults</c>, per upstream <c>UpstreamConfig.Overrides</c>), as Consul.
/// </summary>
public sealed record ServiceDefaultsEntry : ConfigEntry
{
    /// <summary><c>http</c> (default), <c>http2</c>, <c>grpc</c> or <c>tcp</c>.</summary>
    public string? Protocol { get; init; }

    public UpstreamConfig? UpstreamConfig { get; init; }
}

public sealed record UpstreamConfig
{
    public UpstreamSettings? Defaults { get; init; }
    public List<UpstreamSettings>? Overrides { get; init; }
}

/// <summary>How a sidecar treats one upstream (or all, as <c>Defaults</c>).</summary>
public sealed record UpstreamSettings
{
    /// <summary>The upstream this override is for; unused in <c>Defaults</c>.</summary>
    public string? Name { get; init; }

    public int? ConnectTimeoutMs { get; init; }
    public UpstreamLimits? Limits { get; init; }
    public PassiveHealthCheck? PassiveHealthCheck { get; init; }
}

/// <summary>Circuit-breaker limits, Envoy's meaning: beyond them the sidecar fails fast with 503.</summary>
public sealed record UpstreamLimits
{
    public int? MaxConnections { get; init; }
    public int? MaxPendingRequests { get; init; }
    public int? MaxConcurrentRequests { get; init; }
}

/// <summary>Outlier detection (Envoy's consecutive 5xx / gateway errors), Consul's field names.</summary>
public sealed record PassiveHealthCheck
{
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? Interval { get; init; }

    /// <summary>Consecutive failures (5xx or gateway errors) that eject an endpoint.</summary>
    public int? MaxFailures { get; init; }

    /// <summary>Percent chance an endpoint reaching <see cref="MaxFailures"/> is actually ejected (default 100).</summary>
    public int? EnforcingConsecutive5xx { get; init; }

    public int? MaxEjectionPercent { get; init; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? BaseEjectionTime { get; init; }
}

/// <summary><c>service-router</c>: L7 routes for calls to the service named <c>Name</c>; first match wins.</summary>
public sealed record ServiceRouterEntry : ConfigEntry
{
    public List<ServiceRoute>? Routes { get; init; }
}

public sealed record ServiceRoute
{
    public ServiceRouteMatch? Match { get; init; }
    public ServiceRouteDestination? Destination { get; init; }
}

public sealed record ServiceRouteMatch
{
    [JsonPropertyName("HTTP")] public ServiceRouteHttpMatch? Http { get; init; }
}

public sealed record ServiceRouteHttpMatch
{
    public string? PathExact { get; init; }
    public string? PathPrefix { get; init; }
    public string? PathRegex { get; init; }
    public List<HeaderMatch>? Header { get; init; }
    public List<QueryParamMatch>? QueryParam { get; init; }
    public List<string>? Methods { get; init; }
}

public sealed record HeaderMatch
{
    public required string Name { get; init; }
    public bool Present { get; init; }
    public string? Exact { get; init; }
    public string? Prefix { get; init; }
    public string? Suffix { get; init; }
    public string? Regex { get; init; }
    public bool Invert { get; init; }
}

public sealed record QueryParamMatch
{
    public required string Name { get; init; }
    public bool Present { get; init; }
    public string? Exact { get; init; }
    public string? Regex { get; init; }
}

public sealed record ServiceRouteDestination
{
    /// <summary>Defaults to the router's own service.</summary>
    public string? Service { get; init; }

    public string? ServiceSubset { get; init; }
    public string? PrefixRewrite { get; init; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? RequestTimeout { get; init; }

    /// <summary>Weft's addition (Envoy's per_try_timeout): the timeout of each attempt.</summary>
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? PerTryTimeout { get; init; }

    public int? NumRetries { get; init; }
    public bool RetryOnConnectFailure { get; init; }
    public List<int>? RetryOnStatusCodes { get; init; }

    /// <summary>Envoy's retry conditions: <c>5xx</c>, <c>gateway-error</c>, <c>reset</c>, <c>connect-failure</c>, <c>retriable-status-codes</c>.</summary>
    public List<string>? RetryOn { get; init; }
}

/// <summary><c>service-splitter</c>: weighted splits of calls to <c>Name</c> (weights in percent, summing to 100).</summary>
public sealed record ServiceSplitterEntry : ConfigEntry
{
    public List<ServiceSplit>? Splits { get; init; }
}

public sealed record ServiceSplit
{
    public double Weight { get; init; }
    public string? Service { get; init; }
    public string? ServiceSubset { get; init; }
}

/// <summary><c>service-resolver</c>: subsets, timeouts and the load balancer for <c>Name</c>.</summary>
public sealed record ServiceResolverEntry : ConfigEntry
{
    public string? DefaultSubset { get; init; }
    public Dictionary<string, ServiceResolverSubset>? Subsets { get; init; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? ConnectTimeout { get; init; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? RequestTimeout { get; init; }
    public LoadBalancerConfig? LoadBalancer { get; init; }
}

public sealed record ServiceResolverSubset
{
    /// <summary>A filter over the instance: <c>Service.Meta.KEY == VALUE</c>, <c>Service.Tags contains TAG</c>, joined with <c>and</c>.</summary>
    public string? Filter { get; init; }

    public bool OnlyPassing { get; init; }
}

public sealed record LoadBalancerConfig
{
    /// <summary><c>round_robin</c>, <c>random</c>, <c>least_request</c>, <c>ring_hash</c>, <c>maglev</c>; empty: Weft's latency-aware default.</summary>
    public string? Policy { get; init; }

    public LeastRequestConfig? LeastRequestConfig { get; init; }
    public RingHashConfig? RingHashConfig { get; init; }
    public List<HashPolicy>? HashPolicies { get; init; }
}

public sealed record LeastRequestConfig
{
    public int? ChoiceCount { get; init; }
}

public sealed record RingHashConfig
{
    public int? MinimumRingSize { get; init; }
    public int? MaximumRingSize { get; init; }
}

public sealed record HashPolicy
{
    /// <summary><c>header</c>, <c>cookie</c> or <c>query_parameter</c>; empty with <see cref="SourceIP"/>.</summary>
    public string? Field { get; init; }

    public string? FieldValue { get; init; }
    public CookieConfig? CookieConfig { get; init; }
    public bool SourceIP { get; init; }
    public bool Terminal { get; init; }
}

public sealed record CookieConfig
{
    public bool Session { get; init; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? TTL { get; init; }
    public string? Path { get; init; }
}
