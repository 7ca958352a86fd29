using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Weft.Proxy.ControlPlane;
using Weft.Server.Acl;
using Weft.Server.Tests.Infrastructure;
using Weft.Server.Tests.Mesh;

namespace Weft.Server.Tests.Acl;

/// <summary>Service tokens against a real server: the ACL endpoints, what a token may write, and its streams.</summary>
public sealed class ServiceTokenTests : IAsyncLifetime
{
    private readonly List<MeshStreamClient> _clients = [];
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync();
        await _server.DisposeAsync();
    }

    private async Task<(string AccessorId, string SecretId)> CreateAsync(string service, string description = "")
    {
        using var response = await _server.PutAsync("/v1/acl/token", JsonSerializer.Serialize(new
        {
            Description = description,
            ServiceIdentities = new[] { new { ServiceName = service } },
        }));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var token = JsonDocument.Parse(body).RootElement;
        return (token.GetProperty("AccessorID").GetString()!, token.GetProperty("SecretID").GetString()!);
    }

    private HttpClient As(string secret)
    {
        var http = new HttpClient { BaseAddress = _server.Server.HttpAddress };
        http.DefaultRequestHeaders.Add("X-Consul-Token", secret);
        return http;
    }

    private static Task<HttpResponseMessage> PutAsync(HttpClient http, string path, string json) =>
        http.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private MeshStreamClient Stream(string? token, string service, string proxyId, RecordingSink sink)
    {
        var client = new MeshStreamClient(new MeshStreamClientOptions
        {
            ServerAddress = _server.Server.HttpAddress,
            GrpcAddress = _server.Server.GrpcAddress,
            Token = token,
            Service = service,
            ProxyId = proxyId,
            Node = "test-node",
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(300),
        }, sink);
        _clients.Add(client);
        client.Start();
        return client;
    }

    [Fact]
    public async Task CreateListReadDelete_AsConsul_AndTheSecretIsShownOnlyOnCreate()
    {
        var (accessor, secret) = await CreateAsync("orders", "orders sidecar");
        Assert.True(Guid.TryParse(accessor, out _));
        Assert.True(Guid.TryParse(secret, out _));

        var read = await _server.GetJsonAsync($"/v1/acl/token/{accessor}");
        Assert.Equal(accessor, read.GetProperty("AccessorID").GetString());
        Assert.False(read.TryGetProperty("SecretID", out _));
        Assert.Equal("orders sidecar", read.GetProperty("Description").GetString());
        Assert.Equal("orders", read.GetProperty("ServiceIdentities")[0].GetProperty("ServiceName").GetString());
        Assert.False(read.GetProperty("Local").GetBoolean());
        Assert.True(read.GetProperty("CreateIndex").GetUInt64() > 0);
        Assert.Equal(read.GetProperty("CreateIndex").GetUInt64(), read.GetProperty("ModifyIndex").GetUInt64());
        Assert.NotEmpty(read.GetProperty("Hash").GetString()!);
        Assert.True(read.GetProperty("CreateTime").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));

        var list = await _server.GetJsonAsync("/v1/acl/tokens");
        var accessors = list.EnumerateArray().Select(t => t.GetProperty("AccessorID").GetString()).ToList();
        Assert.Equal([AclIdentity.ManagementAccessorId, accessor], accessors);
        Assert.All(list.EnumerateArray(), t => Assert.False(t.TryGetProperty("SecretID", out _)));

        using (var self = As(secret))
        {
            var me = JsonDocument.Parse(await self.GetStringAsync("/v1/acl/token/self")).RootElement;
            Assert.Equal(accessor, me.GetProperty("AccessorID").GetString());
        }

        var management = await _server.GetJsonAsync("/v1/acl/token/self");
        Assert.Equal(AclIdentity.ManagementAccessorId, management.GetProperty("AccessorID").GetString());
        Assert.Equal("global-management", management.GetProperty("Policies")[0].GetProperty("Name").GetString());

        using var deleted = await _server.Http.DeleteAsync($"/v1/acl/token/{accessor}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal("true", await deleted.Content.ReadAsStringAsync());
        using var gone = await _server.Http.GetAsync($"/v1/acl/token/{accessor}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var again = await _server.Http.DeleteAsync($"/v1/acl/token/{accessor}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);

        using var refused = As(secret);
        using var afterDelete = await refused.GetAsync("/v1/catalog/services");
        Assert.Equal(HttpStatusCode.Forbidden, afterDelete.StatusCode);
        Assert.Equal("ACL not found", await afterDelete.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TheSecretIsNotInTheDatabaseFile_OnlyItsHash()
    {
        var (accessor, secret) = await CreateAsync("orders");

        var bytes = new List<byte>();
        foreach (var file in Directory.GetFiles(_server.DataDir, "weft.db*"))
        {
            // WAL and shared-memory files included: the secret must not be anywhere the store writes.
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer);
            bytes.AddRange(buffer.ToArray());
        }

        var all = bytes.ToArray();
        Assert.True(Contains(all, Encoding.UTF8.GetBytes(accessor)), "the accessor is stored (sanity check of the search)");
        Assert.False(Contains(all, Encoding.UTF8.GetBytes(secret)), "the SecretID is stored in clear");
        Assert.False(Contains(all, Encoding.UTF8.GetBytes(secret.ToUpperInvariant())), "the SecretID is stored in clear");
        Assert.True(Contains(all, AclTokens.Hash(secret)), "the SecretID's SHA-256 is what is stored");
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    [Fact]
    public async Task AnOrdersToken_RegistersOrders_ButRegisteringPaymentsIs403AndChangesNothing()
    {
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"payments-1","Name":"payments","Port":9000,"Check":{"TTL":"1h","Status":"passing"}}""");
        var (_, secret) = await CreateAsync("orders");
        using var orders = As(secret);

        using (var ok = await PutAsync(orders, "/v1/agent/service/register", """{"ID":"orders-1","Name":"orders","Port":8080,"Check":{"TTL":"1h"}}"""))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var before = await _server.CatalogSnapshotAsync();

        foreach (var (path, body) in new[]
        {
            ("/v1/agent/service/register", """{"ID":"payments-2","Name":"payments","Port":9001}"""),
            // Taking over payments' instance ID, or its check ID, under the orders name.
            ("/v1/agent/service/register", """{"ID":"payments-1","Name":"orders","Port":9001}"""),
            ("/v1/agent/service/register", """{"ID":"orders-2","Name":"orders","Port":8081,"Check":{"CheckID":"service:payments-1","TTL":"1h"}}"""),
            ("/v1/agent/service/deregister/payments-1", ""),
            ("/v1/agent/check/fail/service:payments-1", ""),
            ("/v1/agent/check/warn/service:payments-1", ""),
            ("/v1/agent/check/pass/serfHealth", ""),
            ("/v1/agent/check/update/service:payments-1", """{"Status":"critical","Output":"from orders"}"""),
            ("/v1/agent/check/register", """{"Name":"extra","ServiceID":"payments-1","TTL":"1h"}"""),
            ("/v1/agent/check/register", """{"Name":"node-level","TTL":"1h"}"""),
            ("/v1/agent/check/deregister/service:payments-1", ""),
            ("/v1/catalog/register", """{"Node":"n2","Address":"10.0.0.2"}"""),
            ("/v1/catalog/deregister", """{"Node":"test-node","ServiceID":"payments-1"}"""),
            ("/v1/config", """{"Kind":"service-defaults","Name":"orders","Protocol":"http"}"""),
            ("/v1/acl/token", """{"ServiceIdentities":[{"ServiceName":"orders"}]}"""),
        })
        {
            using var refused = await PutAsync(orders, path, body);
            var message = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"PUT {path} {body} gave {(int)refused.StatusCode}: {message}");
            Assert.StartsWith("Permission denied", message);
        }

        foreach (var path in new[] { "/v1/config/service-defaults/orders", "/v1/acl/token/" + AclIdentity.ManagementAccessorId })
        {
            using var refused = await orders.DeleteAsync(path);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var list = await orders.GetAsync("/v1/acl/tokens"))
            Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);

        Assert.Equal(before, await _server.CatalogSnapshotAsync());
        Assert.Equal("passing", await _server.CheckStatusAsync("service:payments-1"));

        // Its own service's check, and reads of everything, are allowed.
        using (var own = await PutAsync(orders, "/v1/agent/check/pass/service:orders-1", ""))
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var services = JsonDocument.Parse(await orders.GetStringAsync("/v1/catalog/services")).RootElement;
        Assert.True(services.TryGetProperty("payments", out _));
        Assert.Equal(1, JsonDocument.Parse(await orders.GetStringAsync("/v1/health/service/payments")).RootElement.GetArrayLength());
        using (var deregister = await PutAsync(orders, "/v1/agent/service/deregister/orders-1", ""))
            Assert.Equal(HttpStatusCode.OK, deregister.StatusCode);
    }

    [Fact]
    public async Task AStreamHelloAsAnotherService_IsRefusedWithPermissionDenied()
    {
        var (_, secret) = await CreateAsync("orders");
        var sink = new RecordingSink();
        var client = Stream(secret, "payments", "payments-1", sink);
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.LastError?.Contains("PermissionDenied", StringComparison.Ordinal) == true),
            "the stream is refused");
        Assert.Contains("may not stream as \"payments\"", client.LastError);
        Assert.False(client.Connected);
        Assert.Empty(sink.Offered);
        Assert.Empty(_server.Server.Proxies.Connected);
    }

    [Fact]
    public async Task AStreamHello_WithAnotherServicesSidecarId_IsRefused()
    {
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"payments-1","Name":"payments","Port":9000,"Check":{"CheckID":"sidecar:payments-1","TTL":"1h"}}""");
        var (_, secret) = await CreateAsync("orders");
        var client = Stream(secret, "orders", "payments-1", new RecordingSink());
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.LastError?.Contains("is a sidecar of \"payments\"", StringComparison.Ordinal) == true),
            "the stream is refused");
        Assert.Equal("critical", await _server.CheckStatusAsync("sidecar:payments-1"));
    }

    [Fact]
    public async Task DeletingAToken_ClosesItsOpenStreamWithinSeconds_AndTheReconnectIsRefused()
    {
        var (accessor, secret) = await CreateAsync("orders");
        var (_, other) = await CreateAsync("orders");
        var sink = new RecordingSink();
        var client = Stream(secret, "orders", "orders-1", sink);
        var bystander = Stream(other, "orders", "orders-2", new RecordingSink());
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.Connected && bystander.Connected), "both streams are open");
        Assert.Equal(2, _server.Server.Proxies.Connected.Count);

        using (var deleted = await _server.Http.DeleteAsync($"/v1/acl/token/{accessor}"))
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);

        await RunningServer.WaitUntilAsync(() => Task.FromResult(!client.Connected && _server.Server.Proxies.Connected.Count == 1),
            "the stream of the deleted token is closed", TimeSpan.FromSeconds(5));
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.LastError?.Contains("ACL not found", StringComparison.Ordinal) == true),
            "the reconnect with the deleted token is refused", TimeSpan.FromSeconds(5));
        Assert.Equal("orders-2", Assert.Single(_server.Server.Proxies.Connected).ProxyId);
        Assert.True(bystander.Connected);
        Assert.Equal(1, bystander.Connects);
    }

    [Fact]
    public async Task Tokens_SurviveARestart_AndStillWork()
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-acl-restart-").FullName;
        try
        {
            string accessor, secret;
            await using (var first = await RunningServer.StartAsync(dataDir: dataDir))
            {
                using var response = await first.PutAsync("/v1/acl/token", """{"Description":"kept","ServiceIdentities":[{"ServiceName":"orders"}]}""");
                var token = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                (accessor, secret) = (token.GetProperty("AccessorID").GetString()!, token.GetProperty("SecretID").GetString()!);
            }

            await using var second = await RunningServer.StartAsync(dataDir: dataDir);
            var read = await second.GetJsonAsync($"/v1/acl/token/{accessor}");
            Assert.Equal("kept", read.GetProperty("Description").GetString());

            using var http = new HttpClient { BaseAddress = second.Server.HttpAddress };
            http.DefaultRequestHeaders.Add("X-Consul-Token", secret);
            using var own = await PutAsync(http, "/v1/agent/service/register", """{"Name":"orders","Port":8080}""");
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
            using var other = await PutAsync(http, "/v1/agent/service/register", """{"Name":"payments","Port":8080}""");
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);

            // A second token gets a later index than the one from before the restart.
            using var next = await second.PutAsync("/v1/acl/token", """{"ServiceIdentities":[{"ServiceName":"payments"}]}""");
            var nextIndex = JsonDocument.Parse(await next.Content.ReadAsStringAsync()).RootElement.GetProperty("CreateIndex").GetUInt64();
            Assert.True(nextIndex > read.GetProperty("CreateIndex").GetUInt64());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Theory]
    [InlineData("", "the body is empty")]
    [InlineData("{", "Request decode failed")]
    [InlineData("[]", "Request decode failed")]
    [InlineData("""{"ServiceIdentities":"orders"}""", "Request decode failed")]
    [InlineData("""{"Description":"no identity"}""", "exactly one ServiceIdentities entry")]
    [InlineData("""{"ServiceIdentities":[]}""", "exactly one ServiceIdentities entry")]
    [InlineData("""{"ServiceIdentities":[{"ServiceName":"a"},{"ServiceName":"b"}]}""", "exactly one ServiceIdentities entry")]
    [InlineData("""{"ServiceIdentities":[{}]}""", "needs a ServiceName")]
    [InlineData("""{"ServiceIdentities":[null]}""", "is null")]
    [InlineData("""{"ServiceIdentities":[{"ServiceName":"Orders!"}]}""", "invalid name")]
    [InlineData("""{"ServiceIdentities":[{"ServiceName":"orders","Datacenters":["dc2"]}]}""", "Datacenters is not supported")]
    [InlineData("""{"Policies":[{"Name":"global-management"}],"ServiceIdentities":[{"ServiceName":"orders"}]}""", "Policies are not supported")]
    [InlineData("""{"Roles":[{"Name":"r"}],"ServiceIdentities":[{"ServiceName":"orders"}]}""", "Roles are not supported")]
    [InlineData("""{"ExpirationTTL":"1h","ServiceIdentities":[{"ServiceName":"orders"}]}""", "not supported")]
    [InlineData("""{"AccessorID":"not-a-uuid","ServiceIdentities":[{"ServiceName":"orders"}]}""", "AccessorID must be a UUID")]
    [InlineData("""{"SecretID":"short","ServiceIdentities":[{"ServiceName":"orders"}]}""", "SecretID must be a UUID")]
    [InlineData("""{"AccessorID":"00000000-0000-0000-0000-000000000001","ServiceIdentities":[{"ServiceName":"orders"}]}""", "already in use")]
    public async Task MalformedCreate_Is400WithAReason_AndStoresNothing(string body, string reason)
    {
        using var response = await _server.PutAsync("/v1/acl/token", body);
        var message = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {message}");
        Assert.Contains(reason, message);
        Assert.Equal(1, (await _server.GetJsonAsync("/v1/acl/tokens")).GetArrayLength());
    }

    [Fact]
    public async Task ChosenIds_AreKept_AndASecondTokenWithTheSameSecretIsRefused()
    {
        const string accessor = "5e52a099-4c90-c067-5478-980f06e6f4ee";
        const string secret = "a0f1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b";
        using (var created = await _server.PutAsync("/v1/acl/token", $$"""{"AccessorID":"{{accessor}}","SecretID":"{{secret}}","ServiceIdentities":[{"ServiceName":"orders"}]}"""))
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        using (var clash = await _server.PutAsync("/v1/acl/token", $$"""{"SecretID":"{{secret}}","ServiceIdentities":[{"ServiceName":"payments"}]}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, clash.StatusCode);
            Assert.Contains("SecretID is already in use", await clash.Content.ReadAsStringAsync());
        }

        using var http = As(secret);
        var self = JsonDocument.Parse(await http.GetStringAsync("/v1/acl/token/self")).RootElement;
        Assert.Equal(accessor, self.GetProperty("AccessorID").GetString());
    }

    [Fact]
    public async Task TheManagementToken_CannotBeDeleted()
    {
        using var response = await _server.Http.DeleteAsync($"/v1/acl/token/{AclIdentity.ManagementAccessorId}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Cannot delete the management token", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OnAnOpenServer_TheAclEndpointsSayAclsAreDisabled()
    {
        await using var open = await RunningServer.StartAsync(open: true);
        using var response = await open.PutAsync("/v1/acl/token", """{"ServiceIdentities":[{"ServiceName":"orders"}]}""");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("ACL support disabled", await response.Content.ReadAsStringAsync());
    }
}
