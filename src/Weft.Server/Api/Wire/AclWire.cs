using System.Text.Json;
using System.Text.Json.Serialization;

namespace Weft.Server.Api.Wire;

// Consul's ACL token bodies (/v1/acl/token), field for field, as far as Weft's service tokens go.

internal sealed class AclTokenRequest
{
    [JsonPropertyName("AccessorID")] public string? AccessorId { get; set; }
    [JsonPropertyName("SecretID")] public string? SecretId { get; set; }
    public string? Description { get; set; }
    public List<AclServiceIdentityWire>? ServiceIdentities { get; set; }
    public bool? Local { get; set; }

    // What Consul has and Weft does not: named so a request using them gets a 400 that says so.
    public List<JsonElement>? Policies { get; set; }
    public List<JsonElement>? Roles { get; set; }
    public List<JsonElement>? NodeIdentities { get; set; }
    public List<JsonElement>? TemplatedPolicies { get; set; }
    [JsonPropertyName("ExpirationTTL")] public string? ExpirationTtl { get; set; }
    public string? ExpirationTime { get; set; }
}

internal sealed class AclServiceIdentityWire
{
    public string? ServiceName { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Datacenters { get; set; }
}

internal sealed class AclPolicyLinkWire
{
    [JsonPropertyName("ID")] public required string Id { get; init; }
    public required string Name { get; init; }
}

internal sealed class AclTokenWire
{
    [JsonPropertyName("AccessorID")] public required string AccessorId { get; init; }

    /// <summary>Only in the answer to the create: Weft keeps a hash of it, never the secret itself.</summary>
    [JsonPropertyName("SecretID"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SecretId { get; init; }

    public string Description { get; init; } = "";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<AclPolicyLinkWire>? Policies { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<AclServiceIdentityWire>? ServiceIdentities { get; init; }

    public bool Local { get; init; }
    public DateTimeOffset CreateTime { get; init; }
    public string Hash { get; init; } = "";
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}
