using System.Text.Json.Serialization;

namespace Weft.Cli.Api;

// Case-insensitive reads because Consul's own decoder (Go's encoding/json) is, so hand-written
// and third-party payloads with "id" or "name" mean the same thing to us as to the server.
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(Dictionary<string, List<string>?>))]
[JsonSerializable(typeof(List<HealthServiceEntry>))]
[JsonSerializable(typeof(List<ServiceSummary>))]
[JsonSerializable(typeof(List<InstanceView>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(MeshStats))]
[JsonSerializable(typeof(ServiceStats))]
[JsonSerializable(typeof(List<ProxyStatus>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(Weft.Cli.Observe.CheckReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
