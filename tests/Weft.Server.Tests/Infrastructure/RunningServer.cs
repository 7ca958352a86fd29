using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Weft.Server.Hosting;

namespace Weft.Server.Tests.Infrastructure;

/// <summary>A real <c>weft server</c> in this process, on a free loopback port and a temp data dir on disk.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    public const string Token = "test-token-0123456789";

    private RunningServer(WeftServer server, string dataDir, bool ownsDataDir, string? token)
    {
        Server = server;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
        Http = new HttpClient { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null) Http.DefaultRequestHeaders.Add("X-Consul-Token", token);
    }

    private readonly bool _ownsDataDir;

    public WeftServer Server { get; }
    public string DataDir { get; }
    public HttpClient Http { get; }

    public static async Task<RunningServer> StartAsync(
        string? dataDir = null,
        TimeProvider? time = null,
        bool open = false,
        bool scripts = false,
        string nodeName = "test-node",
        int httpPort = 0,
        int grpcPort = 0,
        Func<ServerOptions, ServerOptions>? configure = null)
    {
        var owns = dataDir is null;
        dataDir ??= Directory.CreateTempSubdirectory("weft-test-").FullName;
        var options = new ServerOptions
        {
            DataDir = dataDir,
            HttpEndpoint = new IPEndPoint(IPAddress.Loopback, httpPort),
            GrpcEndpoint = new IPEndPoint(IPAddress.Loopback, grpcPort),
            NodeName = nodeName,
            AclToken = open ? null : Token,
            DevOpen = open,
            EnableScriptChecks = scripts,
            LogLevel = LogLevel.Warning,
            TimeProvider = time ?? TimeProvider.System,
        };
        var server = await WeftServer.StartAsync(configure?.Invoke(options) ?? options);
        return new RunningServer(server, dataDir, owns, open ? null : Token);
    }

    public async Task<HttpResponseMessage> PutAsync(string path, string json) =>
        await Http.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public async Task PutOkAsync(string path, string json)
    {
        using var response = await PutAsync(path, json);
        Assert.True(response.IsSuccessStatusCode, $"PUT {path} gave {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} gave {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<(JsonElement Body, ulong Index)> GetWithIndexAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} gave {(int)response.StatusCode}: {body}");
        var index = ulong.Parse(response.Headers.GetValues("X-Consul-Index").Single());
        return (JsonDocument.Parse(body).RootElement.Clone(), index);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the deadline passes; no fixed sleeps.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    public async Task<string> CheckStatusAsync(string checkId)
    {
        var checks = await GetJsonAsync("/v1/agent/checks");
        return checks.TryGetProperty(checkId, out var check) ? check.GetProperty("Status").GetString()! : "(absent)";
    }

    public async Task<string> CatalogSnapshotAsync()
    {
        var services = await GetJsonAsync("/v1/agent/services");
        var checks = await GetJsonAsync("/v1/agent/checks");
        var nodes = await GetJsonAsync("/v1/catalog/nodes");
        return services.GetRawText() + checks.GetRawText() + nodes.GetRawText();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        if (_ownsDataDir)
        {
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
