using Weft.Core.Mesh;

namespace Weft.Proxy.LoadBalancing;

/// <summary>An endpoint and what the sidecar has seen of it. Read by <c>/clusters</c> and the policies.</summary>
internal sealed class EndpointState
{
    public EndpointState(MeshEndpoint endpoint) => Endpoint = endpoint;

    public MeshEndpoint Endpoint { get; internal set; }

    internal int O; internal long A; internal long F;
    public int Outstanding => O;
    public bool Ejected => false;
    public DateTimeOffset? EjectedUntil => null;
    public double LatencyEwmaMs => 0;
    public long Attempts => A;
    public long Failures => F;
}
