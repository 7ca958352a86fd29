using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;
using Weft.Tests.Shared;

namespace Weft.Proxy.Tests.Metrics;

public sealed class MetricsEndpointTests
{
    private static Task<Backend> FlakyBackendAsync() => Backend.StartAsync(a => a.Run(async c =>
    {
        if (c.Request.Path == "/slow")
        {
            // At least 300 ms by the stopwatch the proxy also times with: Task.Delay's timer may fire a little early.
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            TimeSpan left;
            while ((left = TimeSpan.FromMilliseconds(300) - System.Diagnostics.Stopwatch.GetElapsedTime(started)) > TimeSpan.Zero)
                await Task.Delay(left + TimeSpan.FromMilliseconds(1));
        }
        c.Response.StatusCode = c.Request.Path == "/fail" ? 503 : 200;
        await c.Response.WriteAsync("x");
    }));

    [Fact]
    public async Task Metrics_CountsEachRequestByStatusCode_AndPassesPromtool()
    {
        await using var backend = await FlakyBackendAsync();
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(4, [("web", [Mesh.Endpoint("w1", backend.Address)])]));
        using var client = Mesh.Client(proxy.OutboundAddress, "web");
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        for (var i = 0; i < 2; i++)
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/fail")).StatusCode);
        using var admin = Mesh.Client(proxy.AdminAddress);

        using var response = await admin.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        await PromText.AssertPromtoolAcceptsAsync(text);
        var samples = PromText.Parse(text);
        (string, string)[] route = [("direction", "outbound"), ("service", "frontend"), ("peer_service", "web"), ("route", "default")];
        Assert.Equal(3, samples.Value("weft_proxy_requests_total", [.. route, ("code", "200")]));
        Assert.Equal(2, samples.Value("weft_proxy_requests_total", [.. route, ("code", "503")]));
        Assert.Equal(5, samples.Value("weft_proxy_request_duration_seconds_count", route));
        Assert.Equal(5, samples.Value("weft_proxy_request_duration_seconds_bucket", [.. route, ("le", "+Inf")]));
        Assert.Equal(4, samples.Value("weft_proxy_config_version", ("service", "frontend")));
        Assert.True(samples.Value("weft_proxy_connections_total", ("listener", "outbound")) >= 1);
        Assert.Equal(1, samples.Value("weft_proxy_endpoints", ("cluster", "web")));
        Assert.Equal(0, samples.Value("weft_proxy_ejections_total", ("cluster", "web")));
        Assert.Single(samples.Find("process_cpu_seconds_total"));
        // No label carries a request's path.
        Assert.DoesNotContain(samples, s => s.Labels.Values.Any(v => v.Contains("fail", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Metrics_LatencyLandsInTheBucketOfItsDuration()
    {
        await using var backend = await FlakyBackendAsync();
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("w1", backend.Address)])]));
        using var client = Mesh.Client(proxy.OutboundAddress, "web");
        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/slow")).StatusCode);
        // The sidecar records once it has written the last byte, so the client may have its answer first.
        await Poll.UntilAsync(() => proxy.Metrics.Routes.Sum(r => r.Latency.Count) == 1, "the sidecar recorded the request");
        using var admin = Mesh.Client(proxy.AdminAddress);

        var samples = PromText.Parse(await admin.GetStringAsync("/metrics"));
        var untilScraped = System.Diagnostics.Stopwatch.GetElapsedTime(sent).TotalSeconds;

        // The sidecar's interval contains the backend's 300 ms and lies between the client's send and the scrape that
        // shows it: a fixed upper bound (0.5 s) would also time the machine, which on a loaded 2-core box adds
        // hundreds of ms to any request.
        (string, string)[] route = [("peer_service", "web"), ("route", "default")];
        Assert.Equal(1, samples.Value("weft_proxy_request_duration_seconds_count", route));
        var recorded = samples.Value("weft_proxy_request_duration_seconds_sum", route);
        Assert.InRange(recorded, 0.3, untilScraped);
        Assert.Equal(0, samples.Value("weft_proxy_request_duration_seconds_bucket", [.. route, ("le", "0.25")]));
        // Every bucket agrees with that duration: the request is counted from the first bound at or above it on.
        var buckets = samples.Find("weft_proxy_request_duration_seconds_bucket", route);
        Assert.True(buckets.Count > 2, $"expected the histogram's buckets, found {buckets.Count}");
        Assert.All(buckets, b => Assert.Equal(
            b.Labels["le"] == "+Inf" || double.Parse(b.Labels["le"], System.Globalization.CultureInfo.InvariantCulture) >= recorded ? 1 : 0, b.Value));
    }

    [Fact]
    public async Task Metrics_RetriesAndTheirOutcomeAreCounted()
    {
        var calls = 0;
        await using var backend = await Backend.StartAsync(a => a.Run(c =>
        {
            // Every other attempt fails: each request's first try fails, its retry succeeds.
            c.Response.StatusCode = Interlocked.Increment(ref calls) % 2 == 1 ? 503 : 200;
            return c.Response.WriteAsync("x");
        }));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        var router = new Weft.Core.Config.ServiceRouterEntry
        {
            Kind = Weft.Core.Config.ConfigKinds.ServiceRouter,
            Name = "web",
            Routes = [new() { Match = new() { Http = new() { PathPrefix = "/" } }, Destination = new() { NumRetries = 2, RetryOn = ["5xx"] } }],
        };
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("w1", backend.Address)])], router));
        using var client = Mesh.Client(proxy.OutboundAddress, "web");
        for (var i = 0; i < 4; i++)
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        using var admin = Mesh.Client(proxy.AdminAddress);

        var text = await admin.GetStringAsync("/metrics");

        await PromText.AssertPromtoolAcceptsAsync(text);
        var samples = PromText.Parse(text);
        (string, string)[] route = [("peer_service", "web"), ("route", "0")];
        Assert.Equal(4, samples.Value("weft_proxy_retries_total", route));
        Assert.Equal(4, samples.Value("weft_proxy_retried_requests_total", [.. route, ("outcome", "success")]));
        Assert.Equal(0, samples.Value("weft_proxy_retried_requests_total", [.. route, ("outcome", "failure")]));
        Assert.Equal(4, samples.Value("weft_proxy_requests_total", [.. route, ("code", "200")]));
    }

    [Fact]
    public async Task TlsMetrics_AreExportedOnlyOnceTheTransportReportsThem()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        using var admin = Mesh.Client(proxy.AdminAddress);

        var before = await admin.GetStringAsync("/metrics");
        proxy.Metrics.CertificateNotAfter = DateTimeOffset.UtcNow.AddHours(1);
        proxy.Metrics.TlsHandshakeFailed();
        var after = await admin.GetStringAsync("/metrics");

        Assert.DoesNotContain("weft_proxy_tls", before, StringComparison.Ordinal);
        Assert.DoesNotContain("weft_proxy_certificate", before, StringComparison.Ordinal);
        await PromText.AssertPromtoolAcceptsAsync(after);
        var samples = PromText.Parse(after);
        Assert.Equal(1, samples.Value("weft_proxy_tls_handshake_failures_total"));
        Assert.InRange(samples.Value("weft_proxy_certificate_expiry_seconds"), 3500, 3600);
    }

    [Fact]
    public async Task InboundCallers_AreTheirOwnPeerSeries_OnceTheirIdentityIsKnown()
    {
        await using var proxy = await Mesh.ProxyAsync("payments", Mesh.NoApp);
        var route = proxy.Metrics.Route(Weft.Proxy.Metrics.Directions.Inbound, "payments", "app");
        // What the request path does for a caller that presented spiffe://.../svc/web over mTLS.
        route.ForPeer("web").Record(200, TimeSpan.FromMilliseconds(2));
        route.ForPeer("web").Record(200, TimeSpan.FromMilliseconds(2));
        route.Record(200, TimeSpan.FromMilliseconds(2));
        using var admin = Mesh.Client(proxy.AdminAddress);

        var text = await admin.GetStringAsync("/metrics");

        await PromText.AssertPromtoolAcceptsAsync(text);
        var samples = PromText.Parse(text);
        (string, string)[] inbound = [("direction", "inbound"), ("service", "payments"), ("route", "app"), ("code", "200")];
        Assert.Equal(2, samples.Value("weft_proxy_requests_total", [.. inbound, ("peer_service", "web")]));
        Assert.Equal(1, samples.Value("weft_proxy_requests_total", [.. inbound, ("peer_service", "unknown")]));
    }

    [Fact]
    public async Task MetricsOff_Answers404_AndCountsNothing()
    {
        await using var backend = await FlakyBackendAsync();
        await using var proxy = await ProxyHost.StartAsync(new ProxyOptions
        {
            ServiceName = "frontend",
            InstanceId = "frontend-1",
            AppAddress = Mesh.NoApp,
            InboundAddress = Mesh.AnyLoopback,
            OutboundAddress = Mesh.AnyLoopback,
            AdminAddress = Mesh.AnyLoopback,
            Metrics = false,
        });
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("w1", backend.Address)])]));
        using var client = Mesh.Client(proxy.OutboundAddress, "web");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        using var admin = Mesh.Client(proxy.AdminAddress);

        using var response = await admin.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("metrics are off", await response.Content.ReadAsStringAsync());
        Assert.All(proxy.Metrics.Routes, r => Assert.Equal(0, r.Requests(2)));
    }
}
