namespace Weft.Proxy.ControlPlane;

/// <summary>How a sidecar reaches the control plane's proxy stream, and how patiently.</summary>
internal sealed record MeshStreamClientOptions
{
    /// <summary>The server's HTTP address (<c>--server</c>); the stream's address is learned from its <c>/v1/agent/self</c>.</summary>
    public required Uri ServerAddress { get; init; }

    /// <summary>Skips discovery and connects here (<c>http://host:port</c>); null to ask the server.</summary>
    public Uri? GrpcAddress { get; init; }

    /// <summary>Sent as <c>x-consul-token</c> on the stream and on discovery; null for a <c>--dev-open</c> server.</summary>
    public string? Token { get; init; }

    /// <summary>The service this sidecar fronts.</summary>
    public required string Service { get; init; }

    /// <summary>This sidecar's instance ID; the server keeps the check <c>sidecar:&lt;ProxyId&gt;</c> passing while connected.</summary>
    public required string ProxyId { get; init; }

    public string Node { get; init; } = "";

    /// <summary>How often the sidecar says it is alive; well inside the TTL of its <c>sidecar:</c> check.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The first reconnect delay; doubled each failed attempt up to <see cref="MaxBackoff"/>, with jitter.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Builds the counters report sent every <see cref="StatsInterval"/>; null sends none.</summary>
    public Func<Weft.Core.Mesh.Protocol.Stats>? Stats { get; init; }

    public TimeSpan StatsInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeProvider Time { get; init; } = TimeProvider.System;
}
