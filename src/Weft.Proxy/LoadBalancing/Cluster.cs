using Microsoft.AspNetCore.Http;
using Weft.Core.Mesh;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// One upstream service as a sidecar sees it: its endpoints with their live state (outstanding requests,
/// latency, ejection), the load-balancing policy that picks among them, and outlier detection.
/// Thread-safe; <see cref="Pick"/> and <see cref="Report"/> are on every request's path.
/// </summary>
internal sealed class Cluster
{
    private volatile EndpointState[] _eps = [];
    private int _next;
    public Cluster(string name, ClusterSettings settings, TimeProvider time) { Name = name; Settings = settings; }
    public string Name { get; }
    public ClusterSettings Settings { get; private set; }
    public IReadOnlyList<EndpointState> Endpoints => _eps;
    public void Update(ClusterSettings settings, IReadOnlyList<MeshEndpoint> endpoints)
    {
        Settings = settings;
        var old = _eps;
        var list = new List<EndpointState>();
        foreach (var e in endpoints) { var o = Array.Find(old, x => x.Endpoint.Id == e.Id && x.Endpoint.HostPort == e.HostPort); list.Add(o ?? new EndpointState(e)); }
        _eps = [.. list];
    }
    public EndpointState? Pick(HttpContext? request, IReadOnlyCollection<EndpointState>? exclude = null)
    {
        var eps = _eps;
        if (eps.Length == 0) return null;
        for (var i = 0; i < eps.Length; i++)
        {
            var e = eps[Random.Shared.Next(eps.Length)];
            if (exclude is null || !exclude.Contains(e)) { Interlocked.Increment(ref e.O); Interlocked.Increment(ref e.A); return e; }
        }
        var f = eps[(int)((uint)Interlocked.Increment(ref _next) % eps.Length)];
        Interlocked.Increment(ref f.O); Interlocked.Increment(ref f.A); return f;
    }
    public void Report(EndpointState endpoint, AttemptOutcome outcome, TimeSpan latency)
    {
        Interlocked.Decrement(ref endpoint.O);
        if (outcome is not (AttemptOutcome.Success or AttemptOutcome.Cancelled)) Interlocked.Increment(ref endpoint.F);
    }
}
