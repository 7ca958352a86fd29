using System.Text.RegularExpressions;

namespace Weft.Core.Config;

/// <summary>
/// What makes a config entry unusable, checked before it is stored so a sidecar never receives one it has
/// to reject. Each problem is one sentence naming the field, as Consul's validation messages do.
/// </summary>
public static partial class ConfigEntryValidation
{
    public static readonly IReadOnlyList<string> Protocols = ["http", "http2", "grpc", "tcp"];
    public static readonly IReadOnlyList<string> LoadBalancerPolicies = ["round_robin", "random", "least_request", "ring_hash", "maglev"];
    public static readonly IReadOnlyList<string> RetryConditions = ["5xx", "gateway-error", "reset", "connect-failure", "retriable-status-codes", "refused-stream", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"];
    public static readonly IReadOnlyList<string> HashFields = ["header", "cookie", "query_parameter"];

    /// <summary>The first problem with <paramref name="entry"/>, or null when it can be stored.</summary>
    public static string? Validate(ConfigEntry entry)
    {
        if (string.IsNullOrWhiteSpace(entry.Name))
            return "config entry Name is required";
        if (entry.Name.Contains('/'))
            return $"config entry Name \"{entry.Name}\" must not contain '/'";
        return entry switch
        {
            ServiceDefaultsEntry e => Defaults(e),
            ServiceRouterEntry e => Router(e),
            ServiceSplitterEntry e => Splitter(e),
            ServiceResolverEntry e => Resolver(e),
            ServiceIntentionsEntry e => Intentions(e),
            _ => $"unknown Kind \"{entry.Kind}\"",
        };
    }

    private static string? Defaults(ServiceDefaultsEntry e)
    {
        if (e.Protocol is { Length: > 0 } p && !Protocols.Contains(p))
            return $"Protocol \"{p}\" is not one of {string.Join(", ", Protocols)}";
        if (e.UpstreamConfig is not { } upstreams) return null;
        if (upstreams.Defaults is { } d && Upstream(d, "UpstreamConfig.Defaults") is { } error) return error;
        for (var i = 0; i < (upstreams.Overrides?.Count ?? 0); i++)
        {
            var o = upstreams.Overrides![i];
            var where = $"UpstreamConfig.Overrides[{i}]";
            if (string.IsNullOrWhiteSpace(o.Name)) return $"{where}.Name is required";
            if (Upstream(o, where) is { } overrideError) return overrideError;
        }

        return null;
    }

    private static string? Upstream(UpstreamSettings s, string where)
    {
        if (s.ConnectTimeoutMs < 0) return $"{where}.ConnectTimeoutMs must not be negative";
        if (s.Limits is { } l)
        {
            if (l.MaxConnections < 0) return $"{where}.Limits.MaxConnections must not be negative";
            if (l.MaxPendingRequests < 0) return $"{where}.Limits.MaxPendingRequests must not be negative";
            if (l.MaxConcurrentRequests < 0) return $"{where}.Limits.MaxConcurrentRequests must not be negative";
        }

        if (s.PassiveHealthCheck is { } h)
        {
            if (h.Interval < TimeSpan.Zero) return $"{where}.PassiveHealthCheck.Interval must not be negative";
            if (h.BaseEjectionTime < TimeSpan.Zero) return $"{where}.PassiveHealthCheck.BaseEjectionTime must not be negative";
            if (h.MaxFailures < 0) return $"{where}.PassiveHealthCheck.MaxFailures must not be negative";
            if (h.MaxEjectionPercent is < 0 or > 100) return $"{where}.PassiveHealthCheck.MaxEjectionPercent must be between 0 and 100";
            if (h.EnforcingConsecutive5xx is < 0 or > 100) return $"{where}.PassiveHealthCheck.EnforcingConsecutive5xx must be between 0 and 100";
        }

        return null;
    }

    private static string? Router(ServiceRouterEntry e)
    {
        for (var i = 0; i < (e.Routes?.Count ?? 0); i++)
        {
            var route = e.Routes![i];
            var where = $"Routes[{i}]";
            if (route.Match?.Http is { } http && Match(http, $"{where}.Match.HTTP") is { } matchError) return matchError;
            if (route.Destination is { } d && Destination(d, $"{where}.Destination") is { } destinationError) return destinationError;
        }

        return null;
    }

    private static string? Match(ServiceRouteHttpMatch m, string where)
    {
        var paths = (m.PathExact is not null ? 1 : 0) + (m.PathPrefix is not null ? 1 : 0) + (m.PathRegex is not null ? 1 : 0);
        if (paths > 1) return $"{where}: set at most one of PathExact, PathPrefix, PathRegex";
        if (m.PathExact is { } exact && !exact.StartsWith('/')) return $"{where}.PathExact \"{exact}\" must start with '/'";
        if (m.PathPrefix is { } prefix && !prefix.StartsWith('/')) return $"{where}.PathPrefix \"{prefix}\" must start with '/'";
        if (Regex(m.PathRegex, $"{where}.PathRegex") is { } pathError) return pathError;
        for (var i = 0; i < (m.Header?.Count ?? 0); i++)
        {
            var h = m.Header![i];
            if (string.IsNullOrWhiteSpace(h.Name)) return $"{where}.Header[{i}].Name is required";
            if (Regex(h.Regex, $"{where}.Header[{i}].Regex") is { } error) return error;
        }

        for (var i = 0; i < (m.QueryParam?.Count ?? 0); i++)
        {
            var q = m.QueryParam![i];
            if (string.IsNullOrWhiteSpace(q.Name)) return $"{where}.QueryParam[{i}].Name is required";
            if (Regex(q.Regex, $"{where}.QueryParam[{i}].Regex") is { } error) return error;
        }

        return null;
    }

    private static string? Destination(ServiceRouteDestination d, string where)
    {
        if (d.RequestTimeout < TimeSpan.Zero) return $"{where}.RequestTimeout must not be negative";
        if (d.PerTryTimeout < TimeSpan.Zero) return $"{where}.PerTryTimeout must not be negative";
        if (d.NumRetries < 0) return $"{where}.NumRetries must not be negative";
        foreach (var code in d.RetryOnStatusCodes ?? [])
        {
            if (code is < 100 or > 599) return $"{where}.RetryOnStatusCodes: {code} is not an HTTP status code";
        }

        foreach (var condition in d.RetryOn ?? [])
        {
            if (!RetryConditions.Contains(condition))
                return $"{where}.RetryOn: \"{condition}\" is not one of {string.Join(", ", RetryConditions)}";
        }

        return null;
    }

    private static string? Splitter(ServiceSplitterEntry e)
    {
        if (e.Splits is not { Count: > 0 } splits) return "Splits must contain at least one split";
        var sum = 0.0;
        for (var i = 0; i < splits.Count; i++)
        {
            if (splits[i].Weight is < 0 or > 100) return $"Splits[{i}].Weight must be between 0 and 100";
            sum += splits[i].Weight;
        }

        // Consul allows for the rounding of weights given to two decimals.
        return Math.Abs(sum - 100) > 0.01 ? $"the weights of Splits must sum to 100, not {sum:0.##}" : null;
    }

    private static string? Resolver(ServiceResolverEntry e)
    {
        if (e.ConnectTimeout < TimeSpan.Zero) return "ConnectTimeout must not be negative";
        if (e.RequestTimeout < TimeSpan.Zero) return "RequestTimeout must not be negative";
        if (e.DefaultSubset is { Length: > 0 } subset && e.Subsets?.ContainsKey(subset) != true)
            return $"DefaultSubset \"{subset}\" is not one of the Subsets";
        foreach (var (name, _) in e.Subsets ?? [])
        {
            if (string.IsNullOrWhiteSpace(name)) return "a subset name must not be empty";
        }

        if (e.LoadBalancer is not { } lb) return null;
        if (lb.Policy is { Length: > 0 } policy && !LoadBalancerPolicies.Contains(policy))
            return $"LoadBalancer.Policy \"{policy}\" is not one of {string.Join(", ", LoadBalancerPolicies)}";
        if (lb.LeastRequestConfig?.ChoiceCount is < 2) return "LoadBalancer.LeastRequestConfig.ChoiceCount must be at least 2";
        if (lb.RingHashConfig is { } ring && (ring.MinimumRingSize < 0 || ring.MaximumRingSize < 0 || ring.MinimumRingSize > ring.MaximumRingSize))
            return "LoadBalancer.RingHashConfig sizes must be non-negative, minimum not above maximum";
        for (var i = 0; i < (lb.HashPolicies?.Count ?? 0); i++)
        {
            var h = lb.HashPolicies![i];
            var where = $"LoadBalancer.HashPolicies[{i}]";
            if (h.SourceIP && !string.IsNullOrEmpty(h.Field)) return $"{where}: set either Field or SourceIP, not both";
            if (!h.SourceIP && !HashFields.Contains(h.Field ?? "")) return $"{where}.Field \"{h.Field}\" is not one of {string.Join(", ", HashFields)}";
            if (!h.SourceIP && string.IsNullOrEmpty(h.FieldValue)) return $"{where}.FieldValue is required with Field";
        }

        return null;
    }

    private static string? Regex(string? pattern, string where)
    {
        if (pattern is null) return null;
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            return null;
        }
        catch (ArgumentException e)
        {
            return $"{where} \"{pattern}\" is not a valid regular expression: {e.Message}";
        }
    }
}
