namespace Weft.Proxy.Sidecar;

/// <summary>
/// Who a sidecar registers as: its service and instance, the address peers reach it at (its inbound listener,
/// never the app), and the IDs of the checks it owns.
/// </summary>
internal sealed record SidecarIdentity(string Service, string InstanceId, string AdvertiseAddress, int InboundPort)
{
    /// <summary>Kept passing by the server while this sidecar's stream is open; lapses when it goes away.</summary>
    public string StreamCheckId => $"sidecar:{InstanceId}";

    /// <summary>The sidecar's check of its local app, reported by the sidecar.</summary>
    public string AppCheckId => $"app:{InstanceId}";

    /// <summary>host:port where the sidecar's admin listener (<c>/metrics</c>) is reachable; registered as Meta <c>weft-admin</c>.</summary>
    public string? AdminAddress { get; init; }

    public static readonly TimeSpan StreamCheckTtl = TimeSpan.FromSeconds(30);
}
