using System.Text.Json.Serialization;

namespace Weft.Server.Api.Wire;

/// <summary>Source-generated JSON for every body the registry API reads or writes.</summary>
[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(ServiceRegistrationRequest))]
[JsonSerializable(typeof(CheckRegistrationRequest))]
[JsonSerializable(typeof(CheckUpdateRequest))]
[JsonSerializable(typeof(CatalogRegistrationRequest))]
[JsonSerializable(typeof(CatalogDeregistrationRequest))]
[JsonSerializable(typeof(Dictionary<string, AgentServiceWire>))]
[JsonSerializable(typeof(AgentServiceWire))]
[JsonSerializable(typeof(Dictionary<string, HealthCheckWire>))]
[JsonSerializable(typeof(List<HealthCheckWire>))]
[JsonSerializable(typeof(List<NodeWire>))]
[JsonSerializable(typeof(List<CatalogServiceWire>))]
[JsonSerializable(typeof(CatalogNodeWire))]
[JsonSerializable(typeof(List<ServiceEntryWire>))]
[JsonSerializable(typeof(SortedDictionary<string, IReadOnlyList<string>>))]
[JsonSerializable(typeof(AgentSelfWire))]
[JsonSerializable(typeof(List<MemberWire>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(List<ProxyWire>))]
[JsonSerializable(typeof(StatsWire))]
[JsonSerializable(typeof(ServiceStatsWire))]
[JsonSerializable(typeof(AclTokenRequest))]
[JsonSerializable(typeof(AclTokenWire))]
[JsonSerializable(typeof(List<AclTokenWire>))]
[JsonSerializable(typeof(IntentionRequest))]
[JsonSerializable(typeof(IntentionWire))]
[JsonSerializable(typeof(List<IntentionWire>))]
[JsonSerializable(typeof(IntentionCheckWire))]
internal sealed partial class ConsulJson : JsonSerializerContext
{
    /// <summary>
    /// The context the API uses: as <see cref="JsonSerializerContext"/>'s default, but writing characters such as
    /// ' and + as themselves, as Consul does, rather than as \u escapes.
    /// </summary>
    public static ConsulJson Api { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
