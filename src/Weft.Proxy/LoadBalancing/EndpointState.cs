using Weft.Core.Mesh;

namespace Weft.Proxy.LoadBalancing;

/// <summary>An endpoint and what the sidecar has seen of it. Read by <c>/clusters</c> and the policies.</summary>
internal sealed class EndpointState
{
    public EndpointState(MeshEndpoint endpoint) => Endpoint = endpoint;

    public MeshEndpoint Endpoint { get; internal set; }

    public int Outstanding => throw new NotImplementedException("LoadBalancing helper");

    public bool Ejected => throw new NotImplementedException();

    public DateTimeOffset? EjectedUntil => throw new NotImplementedException();

    /// <summary>Peak-EWMA of attempt latency, in milliseconds.</summary>
    public double LatencyEwmaMs => throw new NotImplementedException();

    public long Attempts => throw new NotImplementedException();

    public long Failures => throw new NotImplementedException();
}
