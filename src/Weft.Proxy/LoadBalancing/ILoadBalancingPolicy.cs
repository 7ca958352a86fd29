using System.Collections.Immutable;
using Microsoft.AspNetCore.Http;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// One load-balancing policy, built for one set of endpoints of one cluster (so the instance is also where the
/// policy keeps its per-cluster state: a round-robin cursor, a hash ring, a Maglev table). Built by
/// <see cref="LoadBalancingPolicyFactory"/> and rebuilt only when the endpoint set, their weights or the
/// policy's settings change. <see cref="Pick"/> runs on every request, concurrently, and must not lock.
/// </summary>
internal interface ILoadBalancingPolicy
{
    /// <summary>
    /// Picks one endpoint for which <see cref="PickContext.IsAvailable"/> holds; null only when it found none
    /// (the cluster then falls back on its own).
    /// </summary>
    EndpointState? Pick(in PickContext context);
}

/// <summary>
/// What one pick may look at: the request (for hash policies), the randomness, the moment, and which endpoints
/// are available right now (not ejected unless in panic, not tried already by this request).
/// </summary>
internal readonly struct PickContext
{
    private readonly IReadOnlyCollection<EndpointState>? _exclude;
    private readonly bool _panic;

    internal PickContext(HttpContext? request, Random random, long timestamp, bool panic,
        IReadOnlyCollection<EndpointState>? exclude, int availableCount, int endpointCount)
    {
        Request = request;
        Random = random;
        Timestamp = timestamp;
        _panic = panic;
        _exclude = exclude;
        AvailableCount = availableCount;
        EndpointCount = endpointCount;
    }

    public HttpContext? Request { get; }

    /// <summary>Shared by all picks of the cluster: thread-safe in production (<see cref="System.Random.Shared"/>).</summary>
    public Random Random { get; }

    /// <summary>Now, as <see cref="TimeProvider.GetTimestamp"/>.</summary>
    public long Timestamp { get; }

    /// <summary>How many endpoints were available when the pick began (at least 1).</summary>
    public int AvailableCount { get; }

    public int EndpointCount { get; }

    public bool AllAvailable => AvailableCount == EndpointCount;

    public bool IsAvailable(EndpointState endpoint) =>
        (_panic || !endpoint.IsEjectedAt(Timestamp)) && (_exclude is null || !Contains(_exclude, endpoint));

    /// <summary>The <paramref name="n"/>-th available endpoint in <paramref name="endpoints"/>' order, or null.</summary>
    public EndpointState? NthAvailable(ImmutableArray<EndpointState> endpoints, int n)
    {
        if (AllAvailable)
            return n < endpoints.Length ? endpoints[n] : null;
        for (var i = 0; i < endpoints.Length; i++)
        {
            if (IsAvailable(endpoints[i]) && n-- == 0)
                return endpoints[i];
        }
        return null;
    }

    /// <summary>A uniformly random available endpoint.</summary>
    public EndpointState? RandomAvailable(ImmutableArray<EndpointState> endpoints) =>
        NthAvailable(endpoints, Random.Next(AvailableCount));

    private static bool Contains(IReadOnlyCollection<EndpointState> exclude, EndpointState endpoint)
    {
        if (exclude is ICollection<EndpointState> collection)
            return collection.Contains(endpoint);
        foreach (var e in exclude)
        {
            if (ReferenceEquals(e, endpoint))
                return true;
        }
        return false;
    }
}
