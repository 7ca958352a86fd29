using System.Text.Json.Serialization;

namespace Weft.Server.Api.Wire;

/// <summary><c>GET /v1/weft/stats</c>: every catalog service's health and golden signals, and who calls whom.</summary>
internal sealed class StatsWire
{
    public required DateTimeOffset Time { get; init; }
    public required double WindowSeconds { get; init; }
    public required List<ServiceStatsWire> Services { get; init; }
    public required List<EdgeWire> Edges { get; init; }
}

internal sealed class ServiceStatsWire
{
    public required string Name { get; init; }
    public required int Instances { get; init; }
    public required int Passing { get; init; }
    public required int Warning { get; init; }
    public required int Critical { get; init; }
    public required double RequestsPerSecond { get; init; }
    public required double? SuccessRate { get; init; }
    public required double? P50Seconds { get; init; }
    public required double? P99Seconds { get; init; }

    // Null (left out) in the list asked with ?history=false: the page lists hundreds of rows and charts none of them.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public required List<StatsPointWire>? History { get; init; }

    // Only in GET /v1/weft/stats/{service}.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RouteSignalsWire>? Routes { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<EdgeWire>? Callers { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<EdgeWire>? Callees { get; set; }
}

internal sealed class StatsPointWire
{
    public required DateTimeOffset Time { get; init; }
    public required double RequestsPerSecond { get; init; }
    public required double? SuccessRate { get; init; }
    public required double? P50Seconds { get; init; }
    public required double? P99Seconds { get; init; }
}

internal sealed class EdgeWire
{
    public required string Source { get; init; }
    public required string Destination { get; init; }
    public required double RequestsPerSecond { get; init; }
    public required double? SuccessRate { get; init; }
}

internal sealed class RouteSignalsWire
{
    public required string Route { get; init; }
    public required double RequestsPerSecond { get; init; }
    public required double? SuccessRate { get; init; }
    public required double? P50Seconds { get; init; }
    public required double? P99Seconds { get; init; }
}
