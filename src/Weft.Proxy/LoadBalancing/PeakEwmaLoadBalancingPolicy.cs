using System.Collections.Immutable;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// Weft's default, Linkerd's balancer: power of two choices over peak-EWMA cost. Two distinct available endpoints
/// are drawn at random; each costs its latency estimate × (outstanding + 1) / weight, and the cheaper wins (the
/// first drawn on a tie). The estimate (<see cref="EndpointState.LatencyEwmaMs"/>) jumps to any higher sample at
/// once and decays toward lower ones with time constant <see cref="DecaySeconds"/>; while an endpoint gets no
/// samples its estimate decays toward zero, as in tower's <c>PeakEwma</c>, so a once-slow endpoint is tried
/// again. An endpoint never sampled starts at <see cref="DefaultRttMs"/>, decaying the same way from when it joined, so a
/// new endpoint among peers that answer in a millisecond gets its first requests within ~35 s instead of never.
/// </summary>
internal sealed class PeakEwmaLoadBalancingPolicy : ILoadBalancingPolicy
{
    /// <summary>Linkerd's default RTT estimate for an endpoint without samples.</summary>
    public const double DefaultRttMs = 30;

    /// <summary>Linkerd's EWMA decay time constant τ.</summary>
    public const double DecaySeconds = 10;

    private readonly ImmutableArray<EndpointState> _endpoints;

    public PeakEwmaLoadBalancingPolicy(ImmutableArray<EndpointState> endpoints) => _endpoints = endpoints;

    public EndpointState? Pick(in PickContext context)
    {
        var count = context.AvailableCount;
        if (count == 1)
            return context.NthAvailable(_endpoints, 0);

        var first = context.Random.Next(count);
        var second = context.Random.Next(count - 1);
        if (second >= first)
            second++;
        var a = context.NthAvailable(_endpoints, first);
        var b = context.NthAvailable(_endpoints, second);
        if (a is null || b is null)
            return a ?? b;
        return Cost(a, context.Timestamp) <= Cost(b, context.Timestamp) ? a : b;
    }

    internal static double Cost(EndpointState endpoint, long timestamp) =>
        endpoint.DecayedLatencyMs(timestamp) * (endpoint.Outstanding + 1) / endpoint.Weight;
}
