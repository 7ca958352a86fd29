using System.Net;
using System.Net.Http.Headers;
using Weft.Server.Tests.Infrastructure;
using Weft.Tests.Shared;

namespace Weft.Server.Tests.Api;

public sealed class MetricsApiTests
{
    private static async Task<List<PromText.Sample>> ScrapeAsync(RunningServer server, string path = "/metrics")
    {
        var text = await server.Http.GetStringAsync(path);
        return PromText.Parse(text);
    }

    [Fact]
    public async Task Metrics_CountRegistrationsDeregistrationsAndHealthTransitions_AndPassPromtool()
    {
        await using var server = await RunningServer.StartAsync();
        var before = await ScrapeAsync(server);

        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-1","Name":"web","Check":{"CheckID":"web-ttl","TTL":"30s"}}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-2","Name":"web"}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-2","Name":"web","Tags":["again"]}""");
        await server.PutOkAsync("/v1/agent/check/pass/web-ttl", "");
        await server.PutOkAsync("/v1/agent/service/deregister/web-2", "");
        var text = await server.Http.GetStringAsync("/metrics");

        await PromText.AssertPromtoolAcceptsAsync(text);
        var after = PromText.Parse(text);
        double Delta(string name, params (string, string)[] labels) =>
            after.Find(name, labels).Sum(s => s.Value) - before.Find(name, labels).Sum(s => s.Value);
        Assert.Equal(2, Delta("weft_server_registrations_total"));
        Assert.Equal(1, Delta("weft_server_deregistrations_total"));
        Assert.Equal(1, Delta("weft_server_health_transitions_total", ("to", "passing")));
        Assert.True(Delta("weft_server_store_commit_duration_seconds_count") >= 5, "each acknowledged write was committed");
        Assert.Equal(after.Value("weft_server_store_commit_duration_seconds_count"), after.Value("weft_server_store_commit_duration_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(1, after.Value("weft_server_services", []) - before.Value("weft_server_services", []));
        Assert.True(after.Value("weft_server_catalog_index") > before.Value("weft_server_catalog_index"));
        Assert.Equal(0, after.Value("weft_server_streams_open"));
        Assert.Single(after.Find("process_resident_memory_bytes"));
    }

    [Fact]
    public async Task Metrics_ShowBlockingQueriesWhileTheyWait()
    {
        await using var server = await RunningServer.StartAsync();
        var (_, index) = await server.GetWithIndexAsync("/v1/catalog/service/web");
        var waiting = server.Http.GetAsync($"/v1/catalog/service/web?index={index}&wait=30s");

        await RunningServer.WaitUntilAsync(async () => (await ScrapeAsync(server)).Value("weft_server_blocking_queries") == 1, "the blocking query shows");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-1","Name":"web"}""");
        using var answered = await waiting;
        await RunningServer.WaitUntilAsync(async () => (await ScrapeAsync(server)).Value("weft_server_blocking_queries") == 0, "the blocking query is gone");

        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    [Fact]
    public async Task AgentMetrics_PrometheusFormatIsTheSameText_JsonOtherwise_AndBadFormatIs400()
    {
        await using var server = await RunningServer.StartAsync();

        var text = await server.Http.GetStringAsync("/v1/agent/metrics?format=prometheus");
        var json = await server.GetJsonAsync("/v1/agent/metrics");
        using var bad = await server.Http.GetAsync("/v1/agent/metrics?format=xml");

        await PromText.AssertPromtoolAcceptsAsync(text);
        Assert.Single(PromText.Parse(text).Find("weft_server_registrations_total"));
        Assert.Contains(json.GetProperty("Gauges").EnumerateArray(), g => g.GetProperty("Name").GetString() == "weft.server.streams_open");
        Assert.Contains(json.GetProperty("Counters").EnumerateArray(), g => g.GetProperty("Name").GetString() == "weft.server.registrations");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("format=prometheus", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task MetricsEndpoints_NeedTheToken_WhichPrometheusSendsAsBearer()
    {
        await using var server = await RunningServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Server.HttpAddress };

        foreach (var path in new[] { "/metrics", "/v1/agent/metrics?format=prometheus", "/v1/prometheus/sd" })
        {
            using var refused = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            using var bearer = new HttpRequestMessage(HttpMethod.Get, path);
            bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", RunningServer.Token);
            using var allowed = await anonymous.SendAsync(bearer);
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }
    }

    [Fact]
    public async Task PrometheusSd_ListsOnlyInstancesWithAnAdminAddress_WithServiceAndInstanceLabels()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-1","Name":"web","Address":"127.0.0.1","Port":15006,"Meta":{"weft-sidecar":"true","weft-admin":"127.0.0.1:15000"}}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"db-1","Name":"db","Address":"127.0.0.1","Port":5432}""");

        using var response = await server.Http.GetAsync("/v1/prometheus/sd");
        var groups = await server.GetJsonAsync("/v1/prometheus/sd");

        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var group = Assert.Single(groups.EnumerateArray());
        Assert.Equal("127.0.0.1:15000", Assert.Single(group.GetProperty("targets").EnumerateArray()).GetString());
        var labels = group.GetProperty("labels");
        Assert.Equal("web", labels.GetProperty("service").GetString());
        Assert.Equal("web-1", labels.GetProperty("instance").GetString());
        Assert.Equal("web", labels.GetProperty("__meta_weft_service").GetString());
        Assert.Equal("127.0.0.1:15006", labels.GetProperty("__meta_weft_address").GetString());
    }

    [Fact]
    public async Task PushLatency_TimesFromTheCommitToTheStreamWrite_OfEachDelta_NotOfSnapshots()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-1","Name":"web","Port":8080}""");
        var sink = new Weft.Server.Tests.Mesh.RecordingSink();
        await using var client = new Weft.Proxy.ControlPlane.MeshStreamClient(new Weft.Proxy.ControlPlane.MeshStreamClientOptions
        {
            ServerAddress = server.Server.HttpAddress,
            Token = RunningServer.Token,
            Service = "web",
            ProxyId = "web-1",
            Node = "test-node",
            HeartbeatInterval = TimeSpan.FromSeconds(30),
        }, sink);
        client.Start();
        await RunningServer.WaitUntilAsync(() => Task.FromResult(client.Connected), "the sidecar's stream is connected");

        var before = await ScrapeAsync(server);
        Assert.True(before.Value("weft_server_stream_push_duration_seconds_count") >= 1, "the snapshot was pushed");
        Assert.Equal(0, before.Value("weft_server_stream_push_latency_seconds_count"));

        // The sidecar's view of the same delay: from sending the write to the delta that carries it arriving.
        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"web-2","Name":"web","Port":8081}""");
        await RunningServer.WaitUntilAsync(() => Task.FromResult(sink.Last?.Endpoints["web"].Any(e => e.Id == "web-2") == true), "the delta reaches the sidecar");
        var seen = System.Diagnostics.Stopwatch.GetElapsedTime(sent).TotalSeconds;
        await RunningServer.WaitUntilAsync(async () => (await ScrapeAsync(server)).Value("weft_server_stream_push_latency_seconds_count") >= 1, "the push is counted");
        var text = await server.Http.GetStringAsync("/metrics");

        await PromText.AssertPromtoolAcceptsAsync(text);
        var after = PromText.Parse(text);
        double Delta(string name) => after.Value(name) - before.Value(name);
        var pushes = Delta("weft_server_stream_push_latency_seconds_count");
        Assert.Equal(pushes, Delta("weft_server_stream_push_duration_seconds_count")); // every delta counted in both
        var latency = Delta("weft_server_stream_push_latency_seconds_sum");
        // The latency covers the build and write the duration times, plus the wait before them; and it starts after the
        // write was sent, so it cannot exceed what the sidecar saw.
        Assert.True(latency >= Delta("weft_server_stream_push_duration_seconds_sum"), $"latency {latency} s < build+write");
        Assert.True(latency > 0 && latency <= seen * pushes, $"latency {latency} s over {pushes} pushes, seen by the sidecar {seen} s");
    }
}
