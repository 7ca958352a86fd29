using System.Collections.Immutable;
using Microsoft.AspNetCore.Http;
using Weft.Core.Mesh;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// One upstream service as a sidecar sees it: its endpoints with their live state (outstanding requests,
/// latency, ejection), the load-balancing policy that picks among them, and outlier detection.
/// Thread-safe; <see cref="Pick"/> and <see cref="Report"/> are on every request's path.
/// </summary>
/// <remarks>
/// Readers take the current <see cref="ClusterView"/> (settings, endpoints, built policy) with one volatile read
/// and never lock; <see cref="Update"/> and ejections serialize on one lock and publish a new view.
/// </remarks>
internal sealed partial class Cluster
{
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Lock _gate = new();
    private volatile ClusterView _view;

    public Cluster(string name, ClusterSettings settings, TimeProvider time)
        : this(name, settings, time, Random.Shared)
    {
    }

    /// <summary>For tests: <paramref name="random"/> decides picks and enforcement; it must be thread-safe if
    /// the cluster is used from several threads (a seeded <see cref="System.Random"/> is not).</summary>
    internal Cluster(string name, ClusterSettings settings, TimeProvider time, Random random)
    {
        Name = name;
        _time = time;
        _random = random;
        _view = new ClusterView(settings, [], LoadBalancingPolicyFactory.Create(settings, [], random));
    }

    public string Name { get; }

    public ClusterSettings Settings => _view.Settings;

    /// <summary>The endpoints with their state, for <c>/clusters</c>.</summary>
    public IReadOnlyList<EndpointState> Endpoints => _view.Endpoints;

    /// <summary>The policy built for the current endpoints; tests look at when it is rebuilt.</summary>
    internal ILoadBalancingPolicy Policy => _view.Policy;

    /// <summary>
    /// Replaces settings and endpoints. Endpoints that stay (same ID and address) keep their state: outstanding
    /// requests, latency, ejection.
    /// </summary>
    /// <remarks>
    /// The policy (and its ring or table) is rebuilt only when its settings, the set of endpoints or a weight
    /// changed; new metadata or health on the same endpoints keeps it.
    /// </remarks>
    public void Update(ClusterSettings settings, IReadOnlyList<MeshEndpoint> endpoints)
    {
        lock (_gate)
        {
            var before = _view;
            var existing = new Dictionary<(string, string), EndpointState>(before.Endpoints.Length);
            foreach (var state in before.Endpoints)
                existing[(state.Endpoint.Id, state.Endpoint.HostPort)] = state;

            var sameSet = endpoints.Count == before.Endpoints.Length;
            var next = ImmutableArray.CreateBuilder<EndpointState>(endpoints.Count);
            foreach (var endpoint in endpoints)
            {
                if (existing.Remove((endpoint.Id, endpoint.HostPort), out var state))
                {
                    sameSet &= state.Endpoint.Weight == endpoint.Weight;
                    state.Endpoint = endpoint;
                }
                else
                {
                    state = new EndpointState(endpoint, _time);
                    sameSet = false;
                }
                next.Add(state);
            }
            foreach (var gone in existing.Values)
                gone.Removed = true;
            var states = next.MoveToImmutable();

            _view = sameSet && LoadBalancingPolicyFactory.SamePolicy(before.Settings, settings)
                // Same endpoint objects, perhaps in another order: keep the order the built policy knows.
                ? before with { Settings = settings }
                : new ClusterView(settings, states, LoadBalancingPolicyFactory.Create(settings, states, _random));
        }
    }

    /// <summary>
    /// Starts an attempt: picks an endpoint (hash policies read <paramref name="request"/>) and counts it as
    /// outstanding. Avoids endpoints in <paramref name="exclude"/> (tried already by this request) when others are
    /// available. Null when the cluster has no endpoint at all. Every non-null pick must be ended by exactly one
    /// <see cref="Report"/>.
    /// </summary>
    /// <remarks>
    /// Ejected endpoints are skipped unless the cluster is in panic: fewer than
    /// <see cref="ClusterSettings.PanicThresholdPercent"/> of its endpoints are in service (or none is, whatever the
    /// threshold), in which case all are candidates, as in Envoy.
    /// </remarks>
    public EndpointState? Pick(HttpContext? request, IReadOnlyCollection<EndpointState>? exclude = null)
    {
        var view = _view;
        var endpoints = view.Endpoints;
        if (endpoints.IsEmpty)
            return null;

        var now = _time.GetTimestamp();
        var inService = 0;
        foreach (var endpoint in endpoints)
        {
            if (!endpoint.IsEjectedAt(now))
                inService++;
        }
        var panic = inService == 0 || inService * 100L < (long)view.Settings.PanicThresholdPercent * endpoints.Length;
        var available = panic ? endpoints.Length : inService;

        if (exclude is { Count: > 0 })
        {
            var strict = new PickContext(request, _random, now, panic, exclude, available, endpoints.Length);
            var notExcluded = 0;
            foreach (var endpoint in endpoints)
            {
                if (strict.IsAvailable(endpoint))
                    notExcluded++;
            }
            if (notExcluded > 0)
                available = notExcluded;
            else
                exclude = null;
        }
        else
        {
            exclude = null;
        }

        var context = new PickContext(request, _random, now, panic, exclude, available, endpoints.Length);
        var picked = view.Policy.Pick(in context) ?? Fallback(in context, endpoints);
        picked.BeginAttempt();
        return picked;
    }

    /// <summary>Ends an attempt started by <see cref="Pick"/>: feeds latency and outlier detection.</summary>
    /// <remarks>A cancelled attempt only ends the attempt: it says nothing about the endpoint.</remarks>
    public void Report(EndpointState endpoint, AttemptOutcome outcome, TimeSpan latency)
    {
        endpoint.EndAttempt();
        if (outcome == AttemptOutcome.Cancelled)
            return;

        var failed = outcome != AttemptOutcome.Success;
        var now = _time.GetTimestamp();
        endpoint.RecordLatency(latency, now, failed);
        var consecutive = endpoint.CountOutcome(failed);

        var outlier = _view.Settings.Outlier;
        // Every full run of ConsecutiveFailures counts once. Envoy fires only when the count equals the threshold,
        // so an endpoint refused for MaxEjectionPercent (or by enforcement's dice) that keeps failing is never
        // ejected until a success; here its next run of failures gets another chance. Ejection starts a new run.
        if (failed && outlier.ConsecutiveFailures > 0 && consecutive % outlier.ConsecutiveFailures == 0)
            TryEject(endpoint, now);
    }

    /// <summary>A policy found nothing (an ejection raced the pick): any available endpoint, else the first.</summary>
    private static EndpointState Fallback(in PickContext context, ImmutableArray<EndpointState> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (context.IsAvailable(endpoint))
                return endpoint;
        }
        return endpoints[0];
    }

    private sealed record ClusterView(ClusterSettings Settings, ImmutableArray<EndpointState> Endpoints, ILoadBalancingPolicy Policy);
}
