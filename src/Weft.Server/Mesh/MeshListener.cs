namespace Weft.Server.Mesh;

/// <summary>Where the proxy stream listens, known once Kestrel has bound (port 0 becomes a real port).</summary>
internal sealed class MeshListener
{
    public int Port { get; set; } = -1;

    /// <summary>host:port, as <c>/v1/agent/self</c> advertises it to sidecars.</summary>
    public string Address { get; set; } = "";
}
