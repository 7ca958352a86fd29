using System.Text.Json.Serialization;
using Weft.Core.Text;

namespace Weft.Server.Api.Wire;

// Request bodies of Consul's API, field for field. Names are matched case-insensitively, as Consul does.

internal sealed class ServiceRegistrationRequest
{
    [JsonPropertyName("ID")] public string? Id { get; set; }
    public string? Name { get; set; }
    public List<string>? Tags { get; set; }
    public string? Address { get; set; }
    public int? Port { get; set; }
    public Dictionary<string, string>? Meta { get; set; }
    public bool? EnableTagOverride { get; set; }
    public WeightsWire? Weights { get; set; }
    public CheckRegistrationRequest? Check { get; set; }
    public List<CheckRegistrationRequest>? Checks { get; set; }
    public string? Kind { get; set; }
}

internal sealed class CheckRegistrationRequest
{
    [JsonPropertyName("ID")] public string? Id { get; set; }
    [JsonPropertyName("CheckID")] public string? CheckId { get; set; }
    public string? Name { get; set; }
    public string? Notes { get; set; }
    [JsonPropertyName("ServiceID")] public string? ServiceId { get; set; }
    public string? Status { get; set; }
    public List<string>? Args { get; set; }
    public List<string>? ScriptArgs { get; set; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? Interval { get; set; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? Timeout { get; set; }
    [JsonPropertyName("TTL"), JsonConverter(typeof(GoDurationConverter))] public TimeSpan? Ttl { get; set; }
    [JsonConverter(typeof(GoDurationConverter))] public TimeSpan? DeregisterCriticalServiceAfter { get; set; }
    [JsonPropertyName("HTTP")] public string? Http { get; set; }
    public string? Method { get; set; }
    public Dictionary<string, List<string>>? Header { get; set; }
    public string? Body { get; set; }
    [JsonPropertyName("TLSSkipVerify")] public bool? TlsSkipVerify { get; set; }
    [JsonPropertyName("TLSServerName")] public string? TlsServerName { get; set; }
    [JsonPropertyName("TCP")] public string? Tcp { get; set; }
    [JsonPropertyName("GRPC")] public string? Grpc { get; set; }
    [JsonPropertyName("GRPCUseTLS")] public bool? GrpcUseTls { get; set; }
    public int? SuccessBeforePassing { get; set; }
    public int? FailuresBeforeWarning { get; set; }
    public int? FailuresBeforeCritical { get; set; }

    // Kinds Consul has and Weft does not run: named so a registration using them gets a clear 400.
    [JsonPropertyName("DockerContainerID")] public string? DockerContainerId { get; set; }
    [JsonPropertyName("H2PING")] public string? H2Ping { get; set; }
    [JsonPropertyName("UDP")] public string? Udp { get; set; }
    public string? OSService { get; set; }
    public string? AliasNode { get; set; }
    public string? AliasService { get; set; }
}

internal sealed class CheckUpdateRequest
{
    public string? Status { get; set; }
    public string? Output { get; set; }
}

internal sealed class CatalogRegistrationRequest
{
    [JsonPropertyName("ID")] public string? Id { get; set; }
    public string? Node { get; set; }
    public string? Address { get; set; }
    public string? Datacenter { get; set; }
    public Dictionary<string, string>? TaggedAddresses { get; set; }
    public Dictionary<string, string>? NodeMeta { get; set; }
    public CatalogServiceRequest? Service { get; set; }
    public CatalogCheckRequest? Check { get; set; }
    public List<CatalogCheckRequest>? Checks { get; set; }
    public bool SkipNodeUpdate { get; set; }
}

internal sealed class CatalogServiceRequest
{
    [JsonPropertyName("ID")] public string? Id { get; set; }
    public string? Service { get; set; }
    public List<string>? Tags { get; set; }
    public string? Address { get; set; }
    public int? Port { get; set; }
    public Dictionary<string, string>? Meta { get; set; }
    public WeightsWire? Weights { get; set; }
    public bool? EnableTagOverride { get; set; }
}

internal sealed class CatalogCheckRequest
{
    public string? Node { get; set; }
    [JsonPropertyName("CheckID")] public string? CheckId { get; set; }
    public string? Name { get; set; }
    public string? Status { get; set; }
    public string? Notes { get; set; }
    public string? Output { get; set; }
    [JsonPropertyName("ServiceID")] public string? ServiceId { get; set; }
}

internal sealed class CatalogDeregistrationRequest
{
    public string? Node { get; set; }
    public string? Datacenter { get; set; }
    [JsonPropertyName("ServiceID")] public string? ServiceId { get; set; }
    [JsonPropertyName("CheckID")] public string? CheckId { get; set; }
}

internal sealed class WeightsWire
{
    public int Passing { get; set; } = 1;
    public int Warning { get; set; } = 1;
}
