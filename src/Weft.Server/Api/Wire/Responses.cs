using System.Text.Json.Serialization;

namespace Weft.Server.Api.Wire;

// Response bodies with Consul's field names and shapes, so Consul clients decode them unchanged.

internal sealed class AgentServiceWire
{
    [JsonPropertyName("ID")] public required string Id { get; init; }
    public required string Service { get; init; }
    public required IReadOnlyList<string> Tags { get; init; }
    public required IReadOnlyDictionary<string, string> Meta { get; init; }
    public int Port { get; init; }
    public required string Address { get; init; }
    public required WeightsWire Weights { get; init; }
    public bool EnableTagOverride { get; init; }
    public required string Datacenter { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? ContentHash { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong CreateIndex { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong ModifyIndex { get; init; }
}

internal sealed class NodeWire
{
    [JsonPropertyName("ID")] public required string Id { get; init; }
    public required string Node { get; init; }
    public required string Address { get; init; }
    public required string Datacenter { get; init; }
    public required IReadOnlyDictionary<string, string> TaggedAddresses { get; init; }
    public required IReadOnlyDictionary<string, string> Meta { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

internal sealed class CatalogServiceWire
{
    [JsonPropertyName("ID")] public required string Id { get; init; }
    public required string Node { get; init; }
    public required string Address { get; init; }
    public required string Datacenter { get; init; }
    public required IReadOnlyDictionary<string, string> TaggedAddresses { get; init; }
    public required IReadOnlyDictionary<string, string> NodeMeta { get; init; }
    public string ServiceKind { get; init; } = "";
    [JsonPropertyName("ServiceID")] public required string ServiceId { get; init; }
    public required string ServiceName { get; init; }
    public required IReadOnlyList<string> ServiceTags { get; init; }
    public required string ServiceAddress { get; init; }
    public required WeightsWire ServiceWeights { get; init; }
    public required IReadOnlyDictionary<string, string> ServiceMeta { get; init; }
    public int ServicePort { get; init; }
    public bool ServiceEnableTagOverride { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

internal sealed class CatalogNodeWire
{
    public required NodeWire Node { get; init; }
    public required IReadOnlyDictionary<string, AgentServiceWire> Services { get; init; }
}

internal sealed class HealthCheckWire
{
    public required string Node { get; init; }
    [JsonPropertyName("CheckID")] public required string CheckId { get; init; }
    public required string Name { get; init; }
    public required string Status { get; init; }
    public required string Notes { get; init; }
    public required string Output { get; init; }
    [JsonPropertyName("ServiceID")] public required string ServiceId { get; init; }
    public required string ServiceName { get; init; }
    public required IReadOnlyList<string> ServiceTags { get; init; }
    public required string Type { get; init; }
    public required string Interval { get; init; }
    public required string Timeout { get; init; }
    public int ExposedPort { get; init; }
    public required CheckDefinitionWire Definition { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

internal sealed class CheckDefinitionWire
{
    [JsonPropertyName("HTTP"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Http { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyDictionary<string, IReadOnlyList<string>>? Header { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Method { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Body { get; init; }
    [JsonPropertyName("TLSSkipVerify"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool TlsSkipVerify { get; init; }
    [JsonPropertyName("TCP"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Tcp { get; init; }
    [JsonPropertyName("GRPC"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Grpc { get; init; }
    [JsonPropertyName("GRPCUseTLS"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool GrpcUseTls { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<string>? ScriptArgs { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Interval { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Timeout { get; init; }
    [JsonPropertyName("TTL"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Ttl { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? DeregisterCriticalServiceAfter { get; init; }
}

internal sealed class ServiceEntryWire
{
    public required NodeWire Node { get; init; }
    public required AgentServiceWire Service { get; init; }
    public required IReadOnlyList<HealthCheckWire> Checks { get; init; }
}

internal sealed class AgentSelfWire
{
    public required AgentConfigWire Config { get; init; }
    public required MemberWire Member { get; init; }
    public required IReadOnlyDictionary<string, string> Meta { get; init; }

    /// <summary>Weft's own: where sidecars find the proxy stream.</summary>
    public AgentWeftWire? Weft { get; init; }
}

internal sealed class AgentWeftWire
{
    public required string GrpcAddress { get; init; }
}

/// <summary>One connected sidecar in <c>/v1/weft/proxies</c>.</summary>
internal sealed class ProxyWire
{
    [JsonPropertyName("ProxyID")] public required string ProxyId { get; init; }
    public required string Service { get; init; }
    public required string Node { get; init; }
    public required DateTimeOffset ConnectedAt { get; init; }
    public required ulong SentVersion { get; init; }
    public required ulong AckedVersion { get; init; }
    public required int Nacks { get; init; }
    public required long Heartbeats { get; init; }
    public ProxyNackWire? LastNack { get; init; }

    // From the sidecar's last stats report (empty / null / 0 before the first, about 2 s after it connects).
    public required string Version { get; init; }
    public required DateTimeOffset? CertificateNotAfter { get; init; }
    public required ulong ConfigVersion { get; init; }
    public required double? ConfigAgeSeconds { get; init; }
    public required DateTimeOffset? LastStatsReport { get; init; }
}

internal sealed class ProxyNackWire
{
    public required ulong Version { get; init; }
    public required string Reason { get; init; }
}

internal sealed class AgentConfigWire
{
    public required string Datacenter { get; init; }
    public required string PrimaryDatacenter { get; init; }
    public required string NodeName { get; init; }
    [JsonPropertyName("NodeID")] public required string NodeId { get; init; }
    public required string Revision { get; init; }
    public bool Server { get; init; } = true;
    public required string Version { get; init; }
}

internal sealed class MemberWire
{
    public required string Name { get; init; }
    public required string Addr { get; init; }
    public int Port { get; init; }
    public required IReadOnlyDictionary<string, string> Tags { get; init; }
    public int Status { get; init; } = 1;
    public int ProtocolMin { get; init; } = 1;
    public int ProtocolMax { get; init; } = 5;
    public int ProtocolCur { get; init; } = 2;
    public int DelegateMin { get; init; } = 2;
    public int DelegateMax { get; init; } = 5;
    public int DelegateCur { get; init; } = 4;
}
