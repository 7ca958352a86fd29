using System.Text.Json.Serialization;

namespace Weft.Cli.Api;

// Client-side copies of Consul's documented JSON shapes, kept to the fields the CLI shows.
// They live here rather than being shared with Weft.Server so that the CLI reads the wire
// contract (what any Consul-compatible server sends), not the server's internals.

/// <summary>One element of <c>GET /v1/health/service/{name}</c>.</summary>
internal sealed record HealthServiceEntry
{
    public CatalogNode? Node { get; init; }
    public AgentService? Service { get; init; }
    public IReadOnlyList<HealthCheck>? Checks { get; init; }
}

internal sealed record CatalogNode
{
    [JsonPropertyName("ID")]
    public string? Id { get; init; }

    public string? Node { get; init; }
    public string? Address { get; init; }
    public string? Datacenter { get; init; }
}

internal sealed record AgentService
{
    [JsonPropertyName("ID")]
    public string? Id { get; init; }

    public string? Service { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
    public string? Address { get; init; }
    public int Port { get; init; }
    public IReadOnlyDictionary<string, string>? Meta { get; init; }
}

/// <summary>A check as <c>/v1/health/...</c> returns it; node-level checks have an empty ServiceID.</summary>
internal sealed record HealthCheck
{
    public string? Node { get; init; }

    [JsonPropertyName("CheckID")]
    public string? CheckId { get; init; }

    public string? Name { get; init; }
    public string? Status { get; init; }
    public string? Notes { get; init; }
    public string? Output { get; init; }

    [JsonPropertyName("ServiceID")]
    public string? ServiceId { get; init; }

    public string? ServiceName { get; init; }
}
