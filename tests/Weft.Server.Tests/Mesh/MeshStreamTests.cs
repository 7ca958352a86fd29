using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.ControlPlane;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Mesh;

/// <summary>The proxy stream end to end: a real server in this process and the sidecar's real client.</summary>
public sealed class MeshStreamTests : IAsyncLifetime
{
    private readonly RecordingSink _sink = new();
    private readonly List<MeshStreamClient> _clients = [];
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-1","Name":"web","Address":"10.0.0.1","Port":8080,"Tags":["v1"],"Meta":{"zone":"a"},"Check":{"TTL":"1h","Status":"passing"}}""");
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-2","Name":"web","Address":"10.0.0.2","Port":8080,"Check":{"TTL":"1h","Status":"critical"}}""");
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-3","Name":"web","Address":"10.0.0.3","Port":8080,"Weights":{"Passing":5,"Warning":2},"Check":{"TTL":"1h","Status":"warning"}}""");
        await _server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"web","Protocol":"http2"}""");
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync();
        await _server.DisposeAsync();
    }

    private MeshStreamClient Start(RunningServer server, string? token = RunningServer.Token, string proxyId = "web-1", bool discover = true, TimeSpan? heartbeat = null)
    {
        var client = new MeshStreamClient(new MeshStreamClientOptions
        {
            ServerAddress = server.Server.HttpAddress,
            GrpcAddress = discover ? null : server.Server.GrpcAddress,
            Token = token,
            Service = "web",
            ProxyId = proxyId,
            Node = "test-node",
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(500),
            HeartbeatInterval = heartbeat ?? TimeSpan.FromSeconds(10),
        }, _sink);
        _clients.Add(client);
        client.Start();
        return client;
    }

    private static Task WaitAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        RunningServer.WaitUntilAsync(() => Task.FromResult(condition()), what, timeout);

    private static IEnumerable<string> Ids(MeshSnapshot? s, string service) =>
        s is not null && s.Endpoints.TryGetValue(service, out var endpoints) ? endpoints.Select(e => e.Id) : [];

    [Fact]
    public async Task Snapshot_BringsTheHealthyEndpointsAndTheEntries_AndIsAcknowledged()
    {
        var client = Start(_server);
        await WaitAsync(() => client.Connected, "the client is connected");

        var snapshot = client.LastApplied;
        var web = snapshot.Endpoints["web"];
        Assert.Equal(["web-1", "web-3"], web.Select(e => e.Id));
        Assert.Equal(("10.0.0.1", 8080, "passing", 1), (web[0].Address, web[0].Port, web[0].Health, web[0].Weight));
        Assert.Equal(("warning", 2), (web[1].Health, web[1].Weight));
        Assert.Equal("a", web[0].Meta["zone"]);
        Assert.Equal(["v1"], web[0].Tags.AsEnumerable());
        Assert.Equal("http2", snapshot.Entry<ServiceDefaultsEntry>(ConfigKinds.ServiceDefaults, "web")!.Protocol);
        Assert.True(client.LastAppliedVersion > 0);
        Assert.NotNull(client.LastAppliedAt);

        await RunningServer.WaitUntilAsync(async () =>
        {
            var proxies = await _server.GetJsonAsync("/v1/weft/proxies");
            return proxies.GetArrayLength() == 1 && proxies[0].GetProperty("AckedVersion").GetUInt64() == client.LastAppliedVersion;
        }, "the server lists the proxy with its acknowledged version");
    }

    [Fact]
    public async Task Registration_HealthChange_AndConfigWrite_EachArriveAsADelta()
    {
        // How soon is timed end to end by MeshTests.ConfigWrite_ReachesTheSidecarWithinOneSecond, on the sidecar's clock;
        // a 1 s deadline per step here flaked on a loaded machine.
        var client = Start(_server);
        await WaitAsync(() => client.Connected, "the client is connected");

        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"api-1","Name":"api","Port":9090,"Check":{"TTL":"1h","Status":"passing"}}""");
        await WaitAsync(() => Ids(_sink.Last, "api").SequenceEqual(["api-1"]), "the new instance arrives");

        await _server.PutOkAsync("/v1/agent/check/fail/service:web-1", "");
        await WaitAsync(() => Ids(_sink.Last, "web").SequenceEqual(["web-3"]), "the critical instance is removed");

        await _server.PutOkAsync("/v1/config", """{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/api"}},"Destination":{"Service":"api"}}]}""");
        await WaitAsync(() => _sink.Last?.Entry<ServiceRouterEntry>(ConfigKinds.ServiceRouter, "web") is not null, "the router arrives");

        using (await _server.Http.DeleteAsync("/v1/config/service-defaults/web")) { }
        await WaitAsync(() => _sink.Last?.Entries.ContainsKey((ConfigKinds.ServiceDefaults, "web")) == false, "the deleted entry goes");

        await _server.PutOkAsync("/v1/agent/service/deregister/api-1", "");
        await WaitAsync(() => _sink.Last?.HasService("api") == false, "the service without instances goes");

        // All of it over the first stream, as deltas: no reconnect, every version newer than the last.
        Assert.Equal(1, client.Connects);
        var versions = _sink.Offered.Select(s => s.Version).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Count, versions.Distinct().Count());
        Assert.Equal(_sink.Last!.Version, client.LastAppliedVersion);
    }

    [Fact]
    public async Task AChangeToAnotherServicesUnrelatedCheck_SendsNothing()
    {
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"db-1","Name":"db","Port":5432,"Check":{"TTL":"1h","Status":"passing"}}""");
        var client = Start(_server);
        await WaitAsync(() => client.Connected, "the client is connected");
        var before = _sink.Offered.Count;

        // Warning → the same warning with new output: endpoints unchanged, so no message.
        await _server.PutOkAsync("/v1/agent/check/warn/service:web-3?note=still%20slow", "");
        await _server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"marker"}""");
        await WaitAsync(() => _sink.Last?.Entries.ContainsKey((ConfigKinds.ServiceDefaults, "marker")) == true, "the marker arrives");
        Assert.Equal(before + 1, _sink.Offered.Count);
    }

    [Fact]
    public async Task Nack_ReasonReachesTheServer_AndTheClientKeepsTheLastAppliedSnapshot()
    {
        _sink.Reject = s => s.Entries.ContainsKey((ConfigKinds.ServiceSplitter, "web")) ? "splitter to unknown subset v9" : null;
        var client = Start(_server);
        await WaitAsync(() => client.Connected, "the client is connected");
        var applied = client.LastAppliedVersion;

        await _server.PutOkAsync("/v1/config", """{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":100,"ServiceSubset":"v9"}]}""");
        await RunningServer.WaitUntilAsync(async () =>
        {
            var proxies = await _server.GetJsonAsync("/v1/weft/proxies");
            return proxies.GetArrayLength() == 1 && proxies[0].GetProperty("LastNack").ValueKind == System.Text.Json.JsonValueKind.Object;
        }, "the server records the NACK");

        var proxy = (await _server.GetJsonAsync("/v1/weft/proxies"))[0];
        Assert.Equal("splitter to unknown subset v9", proxy.GetProperty("LastNack").GetProperty("Reason").GetString());
        Assert.Equal(applied, proxy.GetProperty("AckedVersion").GetUInt64());
        Assert.True(proxy.GetProperty("LastNack").GetProperty("Version").GetUInt64() > applied);
        Assert.Equal(applied, client.LastAppliedVersion);
        Assert.Contains("splitter to unknown subset v9", client.LastError);
        Assert.False(client.LastApplied.Entries.ContainsKey((ConfigKinds.ServiceSplitter, "web")));
    }

    [Fact]
    public async Task WithoutTheToken_TheStreamIsRefused()
    {
        var client = Start(_server, token: null, discover: false);
        await WaitAsync(() => client.LastError?.Contains("PermissionDenied", StringComparison.Ordinal) == true, "the stream is refused");
        Assert.False(client.Connected);
        Assert.Empty(_sink.Offered);

        var wrong = Start(_server, token: "not-the-token", discover: false);
        await WaitAsync(() => wrong.LastError?.Contains("ACL not found", StringComparison.Ordinal) == true, "the wrong token is refused");

        var discovering = Start(_server, token: null);
        await WaitAsync(() => discovering.LastError?.Contains("403", StringComparison.Ordinal) == true, "discovery is refused too");
    }

    [Fact]
    public async Task TheHttpPort_DoesNotServeTheStream_AndTheGrpcPort_DoesNotServeTheApi()
    {
        using var http2 = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        http2.DefaultRequestHeaders.Add("X-Consul-Token", RunningServer.Token);
        using var response = await http2.GetAsync(new Uri(_server.Server.GrpcAddress, "/v1/catalog/services"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);

        var self = await _server.GetJsonAsync("/v1/agent/self");
        Assert.Equal(_server.Server.GrpcAddress.Authority, self.GetProperty("Weft").GetProperty("GrpcAddress").GetString());
    }

    [Fact]
    public async Task Heartbeats_KeepTheSidecarCheckPassing_AndItGoesCriticalAfterTheTtlWhenTheClientStops()
    {
        // The server's clock moves only when the test says, so a loaded machine cannot make the 1 s TTL lapse between
        // two heartbeats; the heartbeats themselves are real messages on the real stream.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartAsync(time: clock);
        // The sidecar's own registration, as weft proxy makes it: a TTL check named after its proxy ID.
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-9","Name":"web","Address":"10.0.0.9","Port":15006,"Check":{"CheckID":"sidecar:web-9","TTL":"1s"}}""");
        Assert.Equal("critical", await server.CheckStatusAsync("sidecar:web-9"));

        var client = Start(server, proxyId: "web-9", heartbeat: TimeSpan.FromMilliseconds(100));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("sidecar:web-9") == "passing", "Hello marks the check passing");
        await WaitAsync(() => Ids(_sink.Last, "web").Contains("web-9"), "the sidecar's own instance is in its snapshot");

        // Three TTLs on heartbeats alone: half a TTL at a time, each step followed by heartbeats sent after it. The second
        // counted one proves the first finished refreshing the TTL at the new time (one stream's messages run in order).
        // A lapse would show as two writes (critical, then passing at the next heartbeat): the check's ModifyIndex holds.
        async Task<long> HeartbeatsAsync() => (await server.GetJsonAsync("/v1/weft/proxies"))[0].GetProperty("Heartbeats").GetInt64();
        async Task<ulong> CheckIndexAsync() => (await server.GetJsonAsync("/v1/health/checks/web")).EnumerateArray()
            .Single(c => c.GetProperty("CheckID").GetString() == "sidecar:web-9").GetProperty("ModifyIndex").GetUInt64();
        var passingSince = await CheckIndexAsync();
        for (var step = 0; step < 6; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(500));
            var before = await HeartbeatsAsync();
            await RunningServer.WaitUntilAsync(async () => await HeartbeatsAsync() >= before + 2, "two more heartbeats", TimeSpan.FromSeconds(30));
            Assert.Equal("passing", await server.CheckStatusAsync("sidecar:web-9"));
        }

        Assert.Equal(passingSince, await CheckIndexAsync());
        Assert.True(await HeartbeatsAsync() >= 12);

        await client.StopAsync();
        await RunningServer.WaitUntilAsync(async () => (await server.GetJsonAsync("/v1/weft/proxies")).GetArrayLength() == 0, "the server forgets the proxy");
        clock.Advance(TimeSpan.FromSeconds(1.1));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("sidecar:web-9") == "critical", "the TTL lapses once the stream is gone");
    }
}

/// <summary>Static stability: the control plane goes away and comes back on the same data dir and ports.</summary>
public sealed class MeshStreamRestartTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("weft-stream-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task ServerGone_ClientKeepsTheLastSnapshot_ThenReconnectsAndResumes()
    {
        var sink = new RecordingSink();
        var server = await RunningServer.StartAsync(dataDir: _dataDir);
        var (httpPort, grpcPort) = (server.Server.HttpAddress.Port, server.Server.GrpcAddress.Port);
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-1","Name":"web","Port":8080,"Check":{"TTL":"1h","Status":"passing"}}""");

        await using var client = new MeshStreamClient(new MeshStreamClientOptions
        {
            ServerAddress = server.Server.HttpAddress,
            Token = RunningServer.Token,
            Service = "web",
            ProxyId = "web-1",
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(300),
        }, sink);
        client.Start();
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.Connected), "the client connects");
        var version = client.LastAppliedVersion;

        await server.DisposeAsync();
        await RunningServer.WaitUntilAsync(() => Task.FromResult(!client.Connected), "the client notices the server is gone");
        Assert.Equal(version, client.LastAppliedVersion);
        Assert.Equal(["web-1"], client.LastApplied.Endpoints["web"].Select(e => e.Id));
        Assert.NotNull(client.LastError);

        await using var again = await RunningServer.StartAsync(dataDir: _dataDir, httpPort: httpPort, grpcPort: grpcPort);
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.Connected && client.Connects == 2), "the client reconnects", TimeSpan.FromSeconds(15));
        Assert.Equal(["web-1"], client.LastApplied.Endpoints["web"].Select(e => e.Id));

        await again.PutOkAsync("/v1/agent/service/register", """{"ID":"web-2","Name":"web","Port":8081,"Check":{"TTL":"1h","Status":"passing"}}""");
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.LastApplied.Endpoints["web"].Length == 2), "updates resume");
        Assert.True(client.LastAppliedVersion > version);
    }
}
