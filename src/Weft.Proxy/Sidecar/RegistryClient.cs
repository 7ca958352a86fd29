using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Weft.Core.Mesh;
using Weft.Core.Text;

namespace Weft.Proxy.Sidecar;

/// <summary>
/// The few registry calls a sidecar makes over the server's HTTP API: register its instance with its checks,
/// report its app check, deregister. Each throws <see cref="RegistryException"/> with the server's message.
/// </summary>
internal sealed class RegistryClient(HttpClient http)
{
    public async Task RegisterAsync(SidecarIdentity self, TimeSpan? appCheckTtl, CancellationToken cancellationToken)
    {
        var checks = new List<CheckBody>
        {
            new() { CheckId = self.StreamCheckId, Name = "Sidecar stream to the control plane", Ttl = GoDuration.Format(SidecarIdentity.StreamCheckTtl), Status = "critical" },
        };
        if (appCheckTtl is { } ttl)
            checks.Add(new CheckBody { CheckId = self.AppCheckId, Name = "Local app, checked by its sidecar", Ttl = GoDuration.Format(ttl), Status = "critical" });

        var body = new RegistrationBody
        {
            Id = self.InstanceId,
            Name = self.Service,
            Address = self.AdvertiseAddress,
            Port = self.InboundPort,
            Meta = new() { [MeshMeta.Sidecar] = "true" },
            Checks = checks,
        };
        if (self.AdminAddress is { } admin)
            body.Meta[MeshMeta.Admin] = admin;
        using var response = await http.PutAsJsonAsync("/v1/agent/service/register?replace-existing-checks", body, SidecarJson.Default.RegistrationBody, cancellationToken);
        await EnsureAsync(response, "register", cancellationToken);
    }

    public async Task UpdateCheckAsync(string checkId, string status, string output, CancellationToken cancellationToken)
    {
        using var response = await http.PutAsJsonAsync($"/v1/agent/check/update/{Uri.EscapeDataString(checkId)}",
            new CheckUpdateBody { Status = status, Output = output }, SidecarJson.Default.CheckUpdateBody, cancellationToken);
        await EnsureAsync(response, "report a check", cancellationToken);
    }

    public async Task DeregisterAsync(string instanceId, CancellationToken cancellationToken)
    {
        using var response = await http.PutAsync($"/v1/agent/service/deregister/{Uri.EscapeDataString(instanceId)}", null, cancellationToken);
        await EnsureAsync(response, "deregister", cancellationToken);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var message = (await response.Content.ReadAsStringAsync(cancellationToken)).Trim();
        throw new RegistryException($"the control plane refused to {what}: {(int)response.StatusCode} {message}");
    }
}

internal sealed class RegistryException(string message) : Exception(message);

internal sealed class RegistrationBody
{
    [JsonPropertyName("ID")] public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Address { get; init; }
    public int Port { get; init; }
    public required Dictionary<string, string> Meta { get; init; }
    public required List<CheckBody> Checks { get; init; }
}

internal sealed class CheckBody
{
    [JsonPropertyName("CheckID")] public required string CheckId { get; init; }
    public required string Name { get; init; }
    [JsonPropertyName("TTL")] public required string Ttl { get; init; }
    public required string Status { get; init; }
}

internal sealed class CheckUpdateBody
{
    public required string Status { get; init; }
    public required string Output { get; init; }
}

[JsonSerializable(typeof(RegistrationBody))]
[JsonSerializable(typeof(CheckUpdateBody))]
internal sealed partial class SidecarJson : JsonSerializerContext;
