using System.Text.Json.Serialization;

namespace Weft.Cli.Api;

// The shapes of /v1/weft/stats, /v1/weft/stats/{service} and /v1/weft/proxies as the server
// sends them. `weft stat --json` prints ServiceStats back with these same names: they are the
// documented, stable field names (README, "weft stat").

/// <summary><c>GET /v1/weft/stats</c>: every catalog service's golden signals over a window.</summary>
internal sealed record MeshStats
{
    public DateTimeOffset Time { get; init; }
    public double WindowSeconds { get; init; }
    public List<ServiceStats> Services { get; init; } = [];
    public List<EdgeStats> Edges { get; init; } = [];
}

/// <summary>One service; the routes, callers and callees only in <c>/v1/weft/stats/{service}</c>.</summary>
internal sealed record ServiceStats
{
    public string Name { get; init; } = "";
    public int Instances { get; init; }
    public int Passing { get; init; }
    public int Warning { get; init; }
    public int Critical { get; init; }
    public double RequestsPerSecond { get; init; }

    /// <summary>0..1; null when nothing was served in the window.</summary>
    public double? SuccessRate { get; init; }
    public double? P50Seconds { get; init; }
    public double? P99Seconds { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? WindowSeconds { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<RouteStats>? Routes { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<EdgeStats>? Callers { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<EdgeStats>? Callees { get; init; }
}

internal sealed record RouteStats
{
    public string Route { get; init; } = "";
    public double RequestsPerSecond { get; init; }
    public double? SuccessRate { get; init; }
    public double? P50Seconds { get; init; }
    public double? P99Seconds { get; init; }
}

/// <summary>Source calls Destination, from the callers' outbound reports.</summary>
internal sealed record EdgeStats
{
    public string Source { get; init; } = "";
    public string Destination { get; init; } = "";
    public double RequestsPerSecond { get; init; }
    public double? SuccessRate { get; init; }
}

/// <summary>One connected sidecar in <c>/v1/weft/proxies</c>.</summary>
internal sealed record ProxyStatus
{
    [JsonPropertyName("ProxyID")] public string ProxyId { get; init; } = "";
    public string Service { get; init; } = "";
    public string Node { get; init; } = "";
    public DateTimeOffset ConnectedAt { get; init; }
    public ulong SentVersion { get; init; }
    public ulong AckedVersion { get; init; }
    public int Nacks { get; init; }
    public ProxyNack? LastNack { get; init; }
    public string? Version { get; init; }
    public DateTimeOffset? CertificateNotAfter { get; init; }
    public ulong? ConfigVersion { get; init; }
    public double? ConfigAgeSeconds { get; init; }
    public DateTimeOffset? LastStatsReport { get; init; }
}

internal sealed record ProxyNack
{
    public ulong Version { get; init; }
    public string Reason { get; init; } = "";
}
