using System.Text.Json.Serialization;
using Weft.Core.Config;

namespace Weft.Server.Api.Wire;

/// <summary>Body of <c>PUT /v1/connect/intentions/exact</c>: Consul's Intention, of which only these fields are used.</summary>
internal sealed class IntentionRequest
{
    public string? Action { get; init; }
    public string? Description { get; init; }
    public List<IntentionPermission>? Permissions { get; init; }
}

/// <summary>One intention as Consul's <c>/v1/connect/intentions</c> shows it: a source of a service-intentions entry.</summary>
internal sealed class IntentionWire
{
    [JsonPropertyName("ID")] public string Id { get; init; } = "";
    public string? Description { get; init; }
    public string SourceNS { get; init; } = "default";
    public required string SourceName { get; init; }
    public string DestinationNS { get; init; } = "default";
    public required string DestinationName { get; init; }
    public string SourceType { get; init; } = IntentionSourceTypes.Consul;
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Action { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<IntentionPermission>? Permissions { get; init; }
    public int Precedence { get; init; }
    public Dictionary<string, string>? Meta { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

/// <summary>Answer of <c>GET /v1/connect/intentions/check</c>.</summary>
internal sealed class IntentionCheckWire
{
    public required bool Allowed { get; init; }
}
