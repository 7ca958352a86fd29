// Exit codes of the operator commands (services, instances, register, deregister), one scheme
// for all of them so that scripts can tell "fix your input" from "fix your server":
//
//   0  success
//   1  the server refused the request: any 4xx/5xx except 403; the status and the server's own
//      message are printed. Also a 2xx whose body is not Consul's documented shape.
//   2  bad usage or input: command-line parse errors (System.CommandLine says 1; CliRunner maps
//      them to 2), a register file that is unreadable or not JSON, an unusable --http-addr.
//   3  the server is unreachable: connection refused, unknown host, timeout, TLS failure.
//   4  the server refused the token (403): missing, unknown or without the needed rights.
//      Its own code because the fix (WEFT_ACL_TOKEN / --token) differs from every other 4xx.
//   5  what was named does not exist (weft stat / weft top --service with an unknown service).
//   6  weft check found at least one red line (each printed with its fix).
//
// Every error goes to stderr as one line starting with "weft: "; stdout carries only results.
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Weft.Cli.Api;

/// <summary>A typed client for the Consul-compatible subset of weft server's HTTP API.</summary>
internal sealed class WeftApiClient : IDisposable
{
    public const string TokenHeader = "X-Consul-Token";

    // Long enough for a loaded server, short enough that an operator is not left staring at a
    // silent terminal when a firewall drops packets instead of refusing them.
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;

    public WeftApiClient(ApiConnection connection, HttpMessageHandler? handler = null)
    {
        Address = connection.Address;
        _http = new HttpClient(handler ?? new SocketsHttpHandler(), disposeHandler: true)
        {
            BaseAddress = connection.Address,
            Timeout = RequestTimeout,
        };
        if (connection.Token is { } token)
            _http.DefaultRequestHeaders.Add(TokenHeader, token);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public Uri Address { get; }

    /// <summary><c>GET /v1/catalog/services</c>: service name to the union of its instances' tags.</summary>
    public async Task<IReadOnlyDictionary<string, List<string>?>> GetServicesAsync(CancellationToken ct) =>
        await GetJsonAsync("/v1/catalog/services", CliJsonContext.Default.DictionaryStringListString, ct);

    /// <summary><c>GET /v1/health/service/{name}</c>: every instance with its node and checks.</summary>
    public async Task<IReadOnlyList<HealthServiceEntry>> GetServiceHealthAsync(string name, CancellationToken ct) =>
        await GetJsonAsync($"/v1/health/service/{Uri.EscapeDataString(name)}", CliJsonContext.Default.ListHealthServiceEntry, ct);

    /// <summary><c>PUT /v1/agent/service/register</c> with the caller's JSON passed through untouched.</summary>
    public async Task RegisterAsync(string registrationJson, CancellationToken ct)
    {
        using var content = new StringContent(registrationJson, Encoding.UTF8, "application/json");
        using var response = await SendAsync(HttpMethod.Put, "/v1/agent/service/register", content, ct);
    }

    /// <summary><c>PUT /v1/agent/service/deregister/{id}</c>.</summary>
    public async Task DeregisterAsync(string serviceId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Put, $"/v1/agent/service/deregister/{Uri.EscapeDataString(serviceId)}", null, ct);
    }

    /// <summary><c>PUT /v1/config</c> with the entry's JSON; false when a check-and-set did not match.</summary>
    public async Task<bool> WriteConfigAsync(string entryJson, CancellationToken ct)
    {
        using var content = new StringContent(entryJson, Encoding.UTF8, "application/json");
        using var response = await SendAsync(HttpMethod.Put, "/v1/config", content, ct);
        return (await response.Content.ReadAsStringAsync(ct)).Trim() == "true";
    }

    /// <summary><c>GET /v1/config/{kind}/{name}</c>: the entry's JSON as the server sent it.</summary>
    public Task<JsonDocument> ReadConfigAsync(string kind, string name, CancellationToken ct) =>
        GetDocumentAsync($"/v1/config/{Uri.EscapeDataString(kind)}/{Uri.EscapeDataString(name)}", ct);

    /// <summary><c>GET /v1/config/{kind}</c>: a JSON array of entries.</summary>
    public Task<JsonDocument> ListConfigAsync(string kind, CancellationToken ct) =>
        GetDocumentAsync($"/v1/config/{Uri.EscapeDataString(kind)}", ct);

    /// <summary><c>DELETE /v1/config/{kind}/{name}</c>.</summary>
    public async Task DeleteConfigAsync(string kind, string name, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"/v1/config/{Uri.EscapeDataString(kind)}/{Uri.EscapeDataString(name)}", null, ct);
    }

    /// <summary><c>PUT /v1/acl/token</c> for a service token; the answer carries the SecretID, once.</summary>
    public async Task<JsonDocument> CreateAclTokenAsync(string service, string? description, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (description is not null) writer.WriteString("Description", description);
            writer.WriteStartArray("ServiceIdentities");
            writer.WriteStartObject();
            writer.WriteString("ServiceName", service);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        using var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(HttpMethod.Put, "/v1/acl/token", content, ct);
        return await ParseAsync(response, "/v1/acl/token", ct);
    }

    /// <summary><c>GET /v1/acl/tokens</c>: a JSON array of tokens, without their secrets.</summary>
    public Task<JsonDocument> ListAclTokensAsync(CancellationToken ct) => GetDocumentAsync("/v1/acl/tokens", ct);

    /// <summary><c>GET /v1/acl/token/{accessor}</c>.</summary>
    public Task<JsonDocument> ReadAclTokenAsync(string accessorId, CancellationToken ct) =>
        GetDocumentAsync($"/v1/acl/token/{Uri.EscapeDataString(accessorId)}", ct);

    /// <summary><c>DELETE /v1/acl/token/{accessor}</c>; the server closes the streams opened with the token.</summary>
    public async Task DeleteAclTokenAsync(string accessorId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"/v1/acl/token/{Uri.EscapeDataString(accessorId)}", null, ct);
    }

    /// <summary><c>GET /v1/connect/ca/roots</c>: the trust domain, the active root's ID and every trusted root.</summary>
    public Task<JsonDocument> GetCaRootsAsync(CancellationToken ct) => GetDocumentAsync("/v1/connect/ca/roots", ct);

    /// <summary><c>PUT /v1/connect/ca/configuration</c> asking for a new root, cross-signed by the current one.</summary>
    public async Task RotateCaAsync(CancellationToken ct)
    {
        using var content = new StringContent("""{"Provider":"weft","Config":{"RotateRoot":true}}""", Encoding.UTF8, "application/json");
        using var response = await SendAsync(HttpMethod.Put, "/v1/connect/ca/configuration", content, ct);
    }

    /// <summary><c>PUT /v1/connect/intentions/exact</c>: creates or replaces the L4 intention SOURCE → DESTINATION.</summary>
    public async Task PutIntentionAsync(string source, string destination, string action, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["Action"] = action }, CliJsonContext.Default.DictionaryStringString);
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await SendAsync(HttpMethod.Put, "/v1/connect/intentions/exact" + IntentionQuery(source, destination), content, ct);
    }

    /// <summary><c>DELETE /v1/connect/intentions/exact</c>.</summary>
    public async Task DeleteIntentionAsync(string source, string destination, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Delete, "/v1/connect/intentions/exact" + IntentionQuery(source, destination), null, ct);
    }

    /// <summary><c>GET /v1/connect/intentions</c>: a JSON array of intentions.</summary>
    public Task<JsonDocument> ListIntentionsAsync(CancellationToken ct) => GetDocumentAsync("/v1/connect/intentions", ct);

    /// <summary><c>GET /v1/connect/intentions/check</c>: whether a connection SOURCE → DESTINATION would be allowed.</summary>
    public async Task<bool> CheckIntentionAsync(string source, string destination, CancellationToken ct)
    {
        var path = "/v1/connect/intentions/check" + IntentionQuery(source, destination);
        using var document = await GetDocumentAsync(path, ct);
        return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("Allowed", out var allowed)
            && allowed.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? allowed.GetBoolean()
            : throw new UnexpectedResponseException(path, "no boolean Allowed in the answer");
    }

    /// <summary><c>GET /v1/weft/stats?window=</c>: every service's golden signals and who calls whom.</summary>
    public Task<MeshStats> GetStatsAsync(TimeSpan window, CancellationToken ct) =>
        GetJsonAsync($"/v1/weft/stats?window={WindowQuery(window)}", CliJsonContext.Default.MeshStats, ct);

    /// <summary><c>GET /v1/weft/stats/{service}?window=</c>: one service with its routes, callers and callees.</summary>
    public Task<ServiceStats> GetServiceStatsAsync(string service, TimeSpan window, CancellationToken ct) =>
        GetJsonAsync($"/v1/weft/stats/{Uri.EscapeDataString(service)}?window={WindowQuery(window)}", CliJsonContext.Default.ServiceStats, ct);

    /// <summary><c>GET /v1/weft/proxies</c>: the sidecars on the proxy stream now.</summary>
    public Task<List<ProxyStatus>> GetProxiesAsync(CancellationToken ct) =>
        GetJsonAsync("/v1/weft/proxies", CliJsonContext.Default.ListProxyStatus, ct);

    /// <summary><c>GET /v1/status/leader</c>: open without a token, so it tells "reachable" apart from "token refused".</summary>
    public Task<string> GetLeaderAsync(CancellationToken ct) =>
        GetJsonAsync("/v1/status/leader", CliJsonContext.Default.String, ct);

    /// <summary><c>GET /v1/acl/token/self</c>: the token this client presents.</summary>
    public Task<JsonDocument> GetTokenSelfAsync(CancellationToken ct) => GetDocumentAsync("/v1/acl/token/self", ct);

    /// <summary><c>GET /v1/agent/self</c>: the server's configuration, its version among it.</summary>
    public Task<JsonDocument> GetAgentSelfAsync(CancellationToken ct) => GetDocumentAsync("/v1/agent/self", ct);

    /// <summary><c>GET /v1/connect/ca/configuration</c>: the leaf TTL among it.</summary>
    public Task<JsonDocument> GetCaConfigurationAsync(CancellationToken ct) => GetDocumentAsync("/v1/connect/ca/configuration", ct);

    private static string WindowQuery(TimeSpan window) =>
        ((long)Math.Round(window.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) + "s";

    private static string IntentionQuery(string source, string destination) =>
        $"?source={Uri.EscapeDataString(source)}&destination={Uri.EscapeDataString(destination)}";

    public void Dispose() => _http.Dispose();

    private async Task<JsonDocument> GetDocumentAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, ct);
        return await ParseAsync(response, path, ct);
    }

    private static async Task<JsonDocument> ParseAsync(HttpResponseMessage response, string path, CancellationToken ct)
    {
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            return await JsonDocument.ParseAsync(body, cancellationToken: ct);
        }
        catch (JsonException e)
        {
            throw new UnexpectedResponseException(path, e.Message);
        }
    }

    private async Task<T> GetJsonAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, ct);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            return await JsonSerializer.DeserializeAsync(body, type, ct)
                ?? throw new UnexpectedResponseException(path, "the body is JSON null");
        }
        catch (JsonException e)
        {
            throw new UnexpectedResponseException(path, e.Message);
        }
    }

    /// <summary>Sends one request and turns every way it can fail into one of the exceptions in ApiErrors.cs.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException e)
        {
            throw new ServerUnreachableException(Address, Describe(e), e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ServerUnreachableException(Address, $"no answer within {RequestTimeout.TotalSeconds:0} seconds", e);
        }

        if (response.IsSuccessStatusCode)
            return response;
        using (response)
        {
            var message = (await response.Content.ReadAsStringAsync(ct)).Trim();
            throw new ServerRefusedException(
                (int)response.StatusCode,
                response.ReasonPhrase ?? response.StatusCode.ToString(),
                message.Length > 0 ? message : "(no message)");
        }
    }

    // HttpRequestException's own message repeats the URL we already print; the socket's is the
    // part that tells the operator what happened ("Connection refused", "Name or service not known").
    private static string Describe(HttpRequestException e) => e.InnerException switch
    {
        SocketException s => s.Message,
        IOException { InnerException: SocketException s } => s.Message,
        _ when e.HttpRequestError == HttpRequestError.NameResolutionError => "unknown host",
        _ => e.Message,
    };
}
