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
    public Cluster(string name, ClusterSettings settings, TimeProvider time) => throw new NotImplementedException("LoadBalancing helper");

    public string Name => throw new NotImplementedException();

    public ClusterSettings Settings => throw new NotImplementedException();

    /// <summary>The endpoints with their state, for <c>/clusters</c>.</summary>
    public IReadOnlyList<EndpointState> Endpoints => throw new NotImplementedException();

    /// <summary>
    /// Replaces settings and endpoints. Endpoints that stay (same ID and address) keep their state: outstanding
    /// requests, latency, ejection.
    /// </summary>
    public void Update(ClusterSettings settings, IReadOnlyList<MeshEndpoint> endpoints) => throw new NotImplementedException();

    /// <summary>
    /// Starts an attempt: picks an endpoint (hash policies read <paramref name="request"/>) and counts it as
    /// outstanding. Avoids endpoints in <paramref name="exclude"/> (tried already by this request) when others are
    /// available. Null when the cluster has no endpoint at all. Every non-null pick must be ended by exactly one
    /// <see cref="Report"/>.
    /// </summary>
    public EndpointState? Pick(HttpContext? request, IReadOnlyCollection<EndpointState>? exclude = null) => throw new NotImplementedException();

    /// <summary>Ends an attempt started by <see cref="Pick"/>: feeds latency and outlier detection.</summary>
    public void Report(EndpointState endpoint, AttemptOutcome outcome, TimeSpan latency) => throw new NotImplementedException();
}
