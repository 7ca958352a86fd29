using System.Net;

namespace Weft.Proxy.Listeners;

/// <summary>What a listener is for.</summary>
internal enum ListenerKind
{
    /// <summary>From peers (other sidecars, or anyone registered-address-aware) to the local app.</summary>
    Inbound,

    /// <summary>From the local app, routed by Host to an upstream service.</summary>
    Outbound,

    /// <summary>From the local app, everything to one upstream (HTTP or raw TCP by its protocol).</summary>
    Upstream,

    /// <summary><c>/ready</c>, <c>/config</c>, <c>/clusters</c>, <c>/stats</c>.</summary>
    Admin,
}

/// <summary>One listener of the proxy; attached to every connection it accepts as a connection feature.</summary>
internal sealed record Listener(ListenerKind Kind, string Name, IPEndPoint Configured)
{
    /// <summary>The upstream service of an <see cref="ListenerKind.Upstream"/> listener.</summary>
    public string? Upstream => Kind == ListenerKind.Upstream ? Name : null;

    /// <summary>The address actually bound (the port is chosen by the OS when configured as 0); set once started.</summary>
    public IPEndPoint Bound { get; set; } = Configured;
}
