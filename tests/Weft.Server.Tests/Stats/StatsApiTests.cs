using System.Net;
using Weft.Core.Mesh.Protocol;
using Weft.Proxy.ControlPlane;
using Weft.Server.Tests.Infrastructure;
using Weft.Server.Tests.Mesh;

namespace Weft.Server.Tests.Stats;

/// <summary>/v1/weft/stats and the stats fields of /v1/weft/proxies, fed by the sidecar's real stream client.</summary>
public sealed class StatsApiTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private MeshStreamClient? _client;
    private long _requests;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"orders-1","Name":"orders","Port":8080,"Check":{"TTL":"1h","Status":"passing"}}""");
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"orders-2","Name":"orders","Port":8081,"Check":{"TTL":"1h","Status":"critical"}}""");
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-1","Name":"web","Port":8082}""");
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        await _server.DisposeAsync();
    }

    private Weft.Core.Mesh.Protocol.Stats Counters()
    {
        // 10 more requests per report, one in ten a 503, all in the 1–2.5 ms bucket.
        var n = (ulong)Interlocked.Add(ref _requests, 10);
        var route = new RouteCounters { Direction = "inbound", Peer = "web", Route = "default" };
        route.StatusClasses.AddRange([0, 0, n - n / 10, 0, 0, n / 10]);
        route.LatencyBuckets.AddRange(Enumerable.Range(0, 18).Select(i => i == 4 ? n : 0UL));
        var callee = new RouteCounters { Direction = "outbound", Peer = "web", Route = "web" };
        callee.StatusClasses.AddRange([0, 0, n, 0, 0, 0]);
        callee.LatencyBuckets.AddRange(Enumerable.Range(0, 18).Select(i => i == 4 ? n : 0UL));
        var stats = new Weft.Core.Mesh.Protocol.Stats { Version = "9.9.9", StartedUnixMs = 1, CertificateNotAfterUnixMs = 1_900_000_000_000 };
        stats.Routes.Add(route);
        stats.Routes.Add(callee);
        return stats;
    }

    [Fact]
    public async Task Stats_ListEveryService_WithHealthCounts_AndNullSignalsWithoutTraffic()
    {
        var body = await _server.GetJsonAsync("/v1/weft/stats");
        Assert.Equal(60, body.GetProperty("WindowSeconds").GetDouble());
        var orders = body.GetProperty("Services").EnumerateArray().Single(s => s.GetProperty("Name").GetString() == "orders");
        Assert.Equal((2, 1, 0, 1), (orders.GetProperty("Instances").GetInt32(), orders.GetProperty("Passing").GetInt32(),
            orders.GetProperty("Warning").GetInt32(), orders.GetProperty("Critical").GetInt32()));
        Assert.Equal(0, orders.GetProperty("RequestsPerSecond").GetDouble());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, orders.GetProperty("SuccessRate").ValueKind);
        Assert.Equal(120, orders.GetProperty("History").GetArrayLength());
        Assert.Equal(0, body.GetProperty("Edges").GetArrayLength());
    }

    [Fact]
    public async Task StatsList_FollowsCheckTransitionsAndDeregistration_AndLeavesHistoryOutWhenAskedTo()
    {
        static (int, int, int, int) Orders(System.Text.Json.JsonElement body)
        {
            var orders = body.GetProperty("Services").EnumerateArray().Single(s => s.GetProperty("Name").GetString() == "orders");
            Assert.False(orders.TryGetProperty("History", out _));
            return (orders.GetProperty("Instances").GetInt32(), orders.GetProperty("Passing").GetInt32(),
                orders.GetProperty("Warning").GetInt32(), orders.GetProperty("Critical").GetInt32());
        }

        await _server.PutOkAsync("/v1/agent/check/warn/service:orders-2", "");
        Assert.Equal((2, 1, 1, 0), Orders(await _server.GetJsonAsync("/v1/weft/stats?history=false")));
        await _server.PutOkAsync("/v1/agent/service/deregister/orders-1", "");
        Assert.Equal((1, 0, 1, 0), Orders(await _server.GetJsonAsync("/v1/weft/stats?history=false")));
    }

    [Fact]
    public async Task Stats_BadWindowOrUnknownService_AreRefusedWithAReason()
    {
        var bad = await _server.Http.GetAsync("/v1/weft/stats?window=soon");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("window", await bad.Content.ReadAsStringAsync());
        var tooLong = await _server.Http.GetAsync("/v1/weft/stats?window=1h");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        var unknown = await _server.Http.GetAsync("/v1/weft/stats/nope");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("nope", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Stats_WithoutAToken_AreRefused()
    {
        using var anonymous = new HttpClient { BaseAddress = _server.Server.HttpAddress };
        var response = await anonymous.GetAsync("/v1/weft/stats");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Reports_OverTheStream_BecomeRates_Edges_AndProxyFields()
    {
        _client = new MeshStreamClient(new MeshStreamClientOptions
        {
            ServerAddress = _server.Server.HttpAddress,
            Token = RunningServer.Token,
            Service = "orders",
            ProxyId = "orders-1",
            StatsInterval = TimeSpan.FromMilliseconds(200),
            Stats = Counters,
        }, new RecordingSink());
        _client.Start();

        await RunningServer.WaitUntilAsync(async () =>
        {
            var orders = await _server.GetJsonAsync("/v1/weft/stats/orders?window=10s");
            return orders.GetProperty("RequestsPerSecond").GetDouble() > 0;
        }, "orders shows a request rate", TimeSpan.FromSeconds(20));

        var detail = await _server.GetJsonAsync("/v1/weft/stats/orders?window=10s");
        Assert.Equal(0.9, detail.GetProperty("SuccessRate").GetDouble(), 2);
        Assert.InRange(detail.GetProperty("P50Seconds").GetDouble(), 0.001, 0.0025);
        Assert.Equal("default", detail.GetProperty("Routes")[0].GetProperty("Route").GetString());
        Assert.Equal("web", detail.GetProperty("Callees")[0].GetProperty("Destination").GetString());

        var proxy = (await _server.GetJsonAsync("/v1/weft/proxies"))[0];
        Assert.Equal("9.9.9", proxy.GetProperty("Version").GetString());
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_900_000_000_000), proxy.GetProperty("CertificateNotAfter").GetDateTimeOffset());
        Assert.Equal(_client.LastAppliedVersion, proxy.GetProperty("ConfigVersion").GetUInt64());
        Assert.InRange(proxy.GetProperty("ConfigAgeSeconds").GetDouble(), 0, 60);
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, proxy.GetProperty("LastStatsReport").ValueKind);
    }
}
