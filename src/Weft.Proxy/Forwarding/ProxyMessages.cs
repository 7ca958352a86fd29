using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Routing;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// The one-line explanations of the proxy's own answers, shared by the layered path and the HTTP/1.1 fast path so both
/// say the same thing for the same cause.
/// </summary>
internal static class ProxyMessages
{
    public static string NoHealthyEndpoint(ClusterBinding binding, ulong version) => binding.Subset is null
        ? $"no healthy endpoint for service \"{binding.Service}\" (0 passing or warning in mesh config version {version})"
        : $"no healthy endpoint for service \"{binding.Service}\" subset \"{binding.Subset}\" ({binding.ServiceEndpointCount} passing or warning, {binding.Endpoints.Length} in the subset)";

    public static string Overflow(ClusterBinding binding) =>
        $"circuit breaker open for \"{binding.Name}\": {binding.Limiter.Limit} requests already in flight (service-defaults UpstreamConfig Limits)";

    public static string RequestTimeout(string cluster, TimeSpan limit, int attempts) =>
        $"no response from \"{cluster}\" within the request timeout of {limit.TotalMilliseconds:0} ms ({attempts} attempt{(attempts == 1 ? "" : "s")})";

    public static string BudgetExhausted(string cluster, string failure) =>
        $"retry budget of \"{cluster}\" exhausted (retries may add 20% + 10/s); not retrying after: {failure}";

    public static string Attempts(int attempts) => $" ({attempts} attempt{(attempts == 1 ? "" : "s")})";

    /// <summary>What went wrong with the last attempt: a declined status, or how the exchange failed.</summary>
    public static string Attempt(string cluster, string at, bool declined, int status, AttemptOutcome outcome, string reason, TimeSpan? perTryTimeout)
    {
        if (declined)
            return $"\"{cluster}\" at {at} answered {status}";
        return outcome switch
        {
            AttemptOutcome.ConnectFailure => $"could not connect to \"{cluster}\" at {at}: {reason}",
            AttemptOutcome.Timeout => perTryTimeout is { } limit
                ? $"no response from \"{cluster}\" at {at} within the per-try timeout of {limit.TotalMilliseconds:0} ms"
                // Without a per-try timeout, only the exchange's idle limit ends an attempt.
                : $"nothing from \"{cluster}\" at {at} for {FastPath.RawHttp1Client.ActivityTimeout.TotalMinutes:0} min (the idle limit of an exchange)",
            _ => $"\"{cluster}\" at {at} reset the exchange: {reason}",
        };
    }

    /// <summary>The error kind the last failed attempt gives the request when it is not retried.</summary>
    public static ProxyErrorKind KindOf(AttemptOutcome outcome) => outcome switch
    {
        AttemptOutcome.ConnectFailure => ProxyErrorKind.ConnectFailure,
        AttemptOutcome.Timeout => ProxyErrorKind.PerTryTimeout,
        _ => ProxyErrorKind.UpstreamReset,
    };
}
