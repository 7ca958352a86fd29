using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Weft.EndToEnd.Mesh;

/// <summary>The mesh as a user runs it: a control plane, sidecars beside apps, traffic through them.</summary>
public sealed class MeshTests : IAsyncLifetime
{
    private readonly MeshFixture _mesh = new();
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };

    public Task InitializeAsync() => _mesh.StartServerAsync();

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mesh.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body, string? Error)> CallAsync(Weft.Proxy.Sidecar.SidecarRunner via, string upstream, string path = "/")
    {
        using var request = MeshFixture.Through(via, upstream, path);
        using var response = await _client.SendAsync(request);
        var error = response.Headers.TryGetValues("x-weft-error", out var values) ? values.Single() : null;
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), error);
    }

    private static int EndpointCount(JsonElement clusters, string service) =>
        clusters.TryGetProperty(service, out var cluster) ? cluster.GetProperty("Endpoints").GetArrayLength() : 0;

    private async Task<JsonElement> AdminAsync(Weft.Proxy.Sidecar.SidecarRunner sidecar, string path) =>
        JsonDocument.Parse(await _client.GetStringAsync($"http://{sidecar.Host.AdminAddress}{path}")).RootElement.Clone();

    [Fact]
    public async Task TwoHops_ClientSidecarToServerSidecarToApp()
    {
        var payments = await _mesh.StartAppAsync("payments-app");
        var paymentsSidecar = await _mesh.StartSidecarAsync("payments", "payments-1", payments.Port);
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);

        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "payments")).Status == HttpStatusCode.OK, "web's sidecar reaches payments");
        var (status, body, _) = await CallAsync(web, "payments");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("payments-app", body);

        // The registered address is the sidecar's inbound listener, and the client sidecar knows it is one.
        var clusters = await AdminAsync(web, "/clusters");
        var endpoint = clusters.GetProperty("payments").GetProperty("Endpoints")[0];
        Assert.True(endpoint.GetProperty("Sidecar").GetBoolean());
        Assert.Equal($"127.0.0.1:{paymentsSidecar.Host.InboundAddress.Port}", endpoint.GetProperty("Address").GetString());
    }

    [Fact]
    public async Task TwoHops_HeadersNamedInConnection_StayOnTheirHop_BothWays()
    {
        // The app answers with the names of the request headers it got, and names one of its own response headers in
        // Connection: each hop-by-hop header must stop at the first proxy that receives it.
        var orders = await _mesh.StartAppAsync("orders-app", http =>
        {
            http.Response.Headers.Connection = "X-Resp-Hop";
            http.Response.Headers["X-Resp-Hop"] = "internal";
            http.Response.Headers["X-Resp-End"] = "kept";
            return Task.FromResult(Results.Text(string.Join(",", http.Request.Headers.Keys.Select(k => k.ToLowerInvariant()).Order())));
        });
        await _mesh.StartSidecarAsync("orders", "orders-1", orders.Port);
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "orders")).Status == HttpStatusCode.OK, "web's sidecar reaches orders");

        using var request = MeshFixture.Through(web, "orders");
        request.Headers.Connection.Add("X-Req-Hop");
        request.Headers.Add("X-Req-Hop", "secret");
        request.Headers.Add("X-Req-End", "kept");
        // A connection of its own: the waiting loop's may have been handed to the layered path while the config arrived,
        // and a connection stays on the path it took; a new one takes the fast path, as a caller's does once warm.
        using var fresh = new HttpClient();
        using var response = await fresh.SendAsync(request);
        var received = (await response.Content.ReadAsStringAsync()).Split(',');

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("x-req-end", received);
        Assert.DoesNotContain("x-req-hop", received);
        Assert.DoesNotContain("connection", received);
        Assert.Equal("kept", response.Headers.GetValues("X-Resp-End").Single());
        Assert.False(response.Headers.Contains("X-Resp-Hop"));
    }

    [Fact]
    public async Task ConfigWrite_ReachesTheSidecarWithinOneSecond()
    {
        var v1 = await _mesh.StartAppAsync("orders-v1");
        var v2 = await _mesh.StartAppAsync("orders-v2");
        await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"orders-1","Name":"orders","Address":"127.0.0.1","Port":{{v1.Port}}}""");
        await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"orders-v2-1","Name":"orders-v2","Address":"127.0.0.1","Port":{{v2.Port}}}""");
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "orders")).Body == "orders-v1", "orders answers");

        await _mesh.PutAsync("/v1/config", """
            {"Kind":"service-router","Name":"orders","Routes":[{"Match":{"HTTP":{"PathPrefix":"/v2/","Methods":["GET"]}},"Destination":{"Service":"orders-v2","PrefixRewrite":"/"}}]}
            """);
        var written = DateTimeOffset.UtcNow;
        // Timed by the sidecar's own clock when it compiled the table with the router, not by how fast this loop polls:
        // on a loaded machine a request through the sidecar every 10 ms would add its own delay.
        Weft.Proxy.Routing.RouteTable? routed = null;
        await MeshFixture.WaitUntilAsync(() => Task.FromResult(
            (routed = web.Host.Config.Table).TryGetUpstream("orders", out var upstream) && upstream.Routes.Length > 1), "the router reaches web's sidecar");
        Assert.Equal("orders-v2", (await CallAsync(web, "orders", "/v2/list")).Body);
        Assert.Equal("orders-v1", (await CallAsync(web, "orders", "/list")).Body);
        Assert.True(routed!.CompiledAt - written < TimeSpan.FromSeconds(1), $"applied {(routed.CompiledAt - written).TotalMilliseconds:F0} ms after the write");
    }

    [Fact]
    public async Task ControlPlaneGone_TrafficKeepsFlowing_AndUpdatesResumeWhenItReturns()
    {
        var a = await _mesh.StartAppAsync("inventory-a");
        var b = await _mesh.StartAppAsync("inventory-b");
        await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"inventory-a","Name":"inventory","Address":"127.0.0.1","Port":{{a.Port}}}""");
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "inventory")).Status == HttpStatusCode.OK, "inventory answers");

        await _mesh.StopServerAsync();
        await MeshFixture.WaitUntilAsync(() => Task.FromResult(!web.Stream.Connected), "the sidecar notices the control plane is gone");
        for (var i = 0; i < 20; i++)
            Assert.Equal("inventory-a", (await CallAsync(web, "inventory")).Body);
        using (var ready = await _client.GetAsync($"http://{web.Host.AdminAddress}/ready"))
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        await _mesh.StartServerAsync();
        await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"inventory-b","Name":"inventory","Address":"127.0.0.1","Port":{{b.Port}}}""");
        await MeshFixture.WaitUntilAsync(async () =>
        {
            return EndpointCount(await AdminAsync(web, "/clusters"), "inventory") == 2;
        }, "the sidecar reconnects and learns the new instance", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task KillingOneOfThreeInstancesUnderLoad_FailsNoRequest_AndEjectsIt()
    {
        var apps = new List<MeshFixture.App>();
        for (var i = 0; i < 3; i++)
        {
            var app = await _mesh.StartAppAsync($"catalog-{i}");
            apps.Add(app);
            await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"catalog-{{i}}","Name":"catalog","Address":"127.0.0.1","Port":{{app.Port}}}""");
        }

        await _mesh.PutAsync("/v1/config", """
            {"Kind":"service-router","Name":"catalog","Routes":[{"Destination":{"NumRetries":3,"RetryOnConnectFailure":true,"RetryOn":["5xx","reset","connect-failure"]}}]}
            """);
        await _mesh.PutAsync("/v1/config", """
            {"Kind":"service-defaults","Name":"web","UpstreamConfig":{"Defaults":{"PassiveHealthCheck":{"MaxFailures":3,"MaxEjectionPercent":50,"BaseEjectionTime":"30s","Interval":"1s"}}}}
            """);
        // Round robin, so the instance killed is certain to carry load: the latency-aware default may never try an
        // instance it has not measured while the measured ones answer in well under its 30 ms prior.
        await _mesh.PutAsync("/v1/config", """
            {"Kind":"service-resolver","Name":"catalog","LoadBalancer":{"Policy":"round_robin"}}
            """);
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () =>
        {
            var config = await AdminAsync(web, "/config");
            return config.GetRawText().Contains("catalog", StringComparison.Ordinal) && (await CallAsync(web, "catalog")).Status == HttpStatusCode.OK;
        }, "the sidecar has the catalog route");

        var failures = new List<string>();
        var sent = 0;
        var killed = false;
        var load = Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var i = 0; i < 100; i++)
            {
                var (status, body, error) = await CallAsync(web, "catalog");
                if (status != HttpStatusCode.OK)
                    lock (failures) failures.Add($"{(int)status} {error} {body}");
                if (Interlocked.Increment(ref sent) == 200 && !killed)
                {
                    killed = true;
                    await apps[1].KillAsync();
                }
            }
        });
        await Task.WhenAll(load);

        Assert.True(killed);
        Assert.True(failures.Count == 0, $"{failures.Count} of 800 requests failed, e.g. {string.Join(" | ", failures.Take(3))}");
        var endpoints = (await AdminAsync(web, "/clusters")).GetProperty("catalog").GetProperty("Endpoints").EnumerateArray();
        var dead = endpoints.Single(e => e.GetProperty("Id").GetString() == "catalog-1");
        Assert.True(dead.GetProperty("Ejected").GetBoolean(), dead.GetRawText());
    }

    [Fact]
    public async Task NoHealthyInstance_IsA503ThatSaysSo()
    {
        await _mesh.PutAsync("/v1/agent/service/register", """{"ID":"ledger-1","Name":"ledger","Address":"127.0.0.1","Port":1,"Check":{"TTL":"1h"}}""");
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "ledger")).Error is "no-healthy-endpoint", "the sidecar knows ledger");

        var (status, body, error) = await CallAsync(web, "ledger");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("no-healthy-endpoint", error);
        Assert.Contains("ledger", body);
    }

    [Fact]
    public async Task RoundRobin_SpreadsRequestsEvenlyOverRealInstances()
    {
        var apps = new List<MeshFixture.App>();
        for (var i = 0; i < 3; i++)
        {
            var app = await _mesh.StartAppAsync($"search-{i}");
            apps.Add(app);
            await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"search-{{i}}","Name":"search","Address":"127.0.0.1","Port":{{app.Port}}}""");
        }

        await _mesh.PutAsync("/v1/config", """{"Kind":"service-resolver","Name":"search","LoadBalancer":{"Policy":"round_robin"}}""");
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () =>
            EndpointCount(await AdminAsync(web, "/clusters"), "search") == 3
            && (await AdminAsync(web, "/config")).GetRawText().Contains("round_robin", StringComparison.Ordinal), "the sidecar has three instances and round robin");

        var before = apps.Select(a => a.Hits).ToArray();
        for (var i = 0; i < 300; i++)
            Assert.Equal(HttpStatusCode.OK, (await CallAsync(web, "search")).Status);

        Assert.Equal([100, 100, 100], apps.Select((a, i) => a.Hits - before[i]));
    }

    [Fact]
    public async Task DefaultBalancer_SendsMostTrafficToTheFastInstance()
    {
        var fast = await _mesh.StartAppAsync("fast");
        var slow = await _mesh.StartAppAsync("slow", async http =>
        {
            // A slow instance, as a user would have one: every answer takes 40 ms.
            await Task.Delay(40, http.RequestAborted);
            return Results.Text("slow");
        });
        await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"quote-fast","Name":"quote","Address":"127.0.0.1","Port":{{fast.Port}}}""");
        await _mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"quote-slow","Name":"quote","Address":"127.0.0.1","Port":{{slow.Port}}}""");
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () =>
            EndpointCount(await AdminAsync(web, "/clusters"), "quote") == 2, "the sidecar has both instances");

        // Four callers at a time for 400 requests: the latency-aware default should learn which is slow.
        var calls = Enumerable.Range(0, 4).Select(async _ =>
        {
            for (var i = 0; i < 100; i++)
                Assert.Equal(HttpStatusCode.OK, (await CallAsync(web, "quote")).Status);
        });
        await Task.WhenAll(calls);

        Assert.True(fast.Hits > 3 * slow.Hits, $"fast got {fast.Hits}, slow got {slow.Hits}");
    }
}
