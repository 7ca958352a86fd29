using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Forwarding;

public sealed class ResilienceTests
{
    /// <summary>
    /// One GET of <paramref name="service"/> through a new outbound proxy on <paramref name="snapshot"/>; the response
    /// comes back read whole, so it outlives the proxy.
    /// </summary>
    private static async Task<HttpResponseMessage> GetOnceAsync(string service, MeshSnapshot snapshot)
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(snapshot);
        using var client = Mesh.Client(proxy.OutboundAddress, service);
        return await client.GetAsync("/");
    }

    [Fact]
    public async Task Retries_OneOfTwoEndpointsAnswers503_NoClientVisibleFailureOver200Requests()
    {
        await using var good = await Backend.StartAsync(a => a.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync("good " + await reader.ReadToEndAsync());
        }));
        await using var bad = await Backend.StartFailingAsync();
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        // Outlier detection as a user would configure it beside retries; whether or not the bad endpoint gets ejected,
        // retries (within their budget) must hide its failures.
        var outlier = new UpstreamConfig { Defaults = new UpstreamSettings { PassiveHealthCheck = new PassiveHealthCheck { MaxFailures = 3, MaxEjectionPercent = 50 } } };
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("pay", [Mesh.Endpoint("g", good.Address), Mesh.Endpoint("b", bad.Address)])],
            Mesh.Router("pay", new ServiceRouteDestination { NumRetries = 2, RetryOn = ["5xx"] }), Mesh.Defaults("frontend", upstreams: outlier),
            // Round robin, so the failing endpoint is certainly picked: the latency-aware default may avoid it from the start.
            new ServiceResolverEntry { Kind = ConfigKinds.ServiceResolver, Name = "pay", LoadBalancer = new LoadBalancerConfig { Policy = "round_robin" } }));
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");

        for (var i = 0; i < 200; i++)
        {
            // Bodies are buffered (Content-Length known, small) and replayed on retry.
            var response = await client.PostAsync("/charge", new StringContent("n" + i));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"request {i}: {(int)response.StatusCode} {response.Headers} {await response.Content.ReadAsStringAsync()} retries={proxy.Metrics.Routes.Sum(r => r.Retries)} failed={bad.Requests}");
            Assert.Equal("good n" + i, await response.Content.ReadAsStringAsync());
        }

        Assert.True(bad.Requests > 0, "the failing endpoint was never tried, so retries were not exercised");
    }

    [Fact]
    public async Task DefaultRoute_OneOfTwoEndpointsRefusesConnections_NoClientVisibleFailure()
    {
        await using var good = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("good")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        // No router: the default policy retries a connect failure once, on another endpoint.
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("pay", [Mesh.Endpoint("g", good.Address), Mesh.Endpoint("dead", Mesh.NoApp)])],
            new ServiceResolverEntry { Kind = ConfigKinds.ServiceResolver, Name = "pay", LoadBalancer = new LoadBalancerConfig { Policy = "round_robin" } }));
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");

        for (var i = 0; i < 50; i++)
        {
            var response = await client.PostAsync("/", new StringContent("x"));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"request {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        using var admin = Mesh.Client(proxy.AdminAddress);
        using var clusters = System.Text.Json.JsonDocument.Parse(await admin.GetStringAsync("/clusters"));
        var dead = clusters.RootElement.GetProperty("pay").GetProperty("Endpoints").EnumerateArray().Single(e => e.GetProperty("Id").GetString() == "dead");
        Assert.True(dead.GetProperty("Failures").GetInt64() > 0, "the dead endpoint was never tried, so the retry was not exercised");
    }

    [Fact]
    public async Task RetryBudget_AlwaysFailingUpstream_StopsRetryingAndSaysWhy()
    {
        await using var bad = await Backend.StartFailingAsync();
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("pay", [Mesh.Endpoint("b", bad.Address)])],
            Mesh.Router("pay", new ServiceRouteDestination { NumRetries = 1, RetryOn = ["5xx"] })));
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");

        // Every request wants one retry; the budget allows 20% of requests plus 10/s over 10 s, so it runs out
        // after about 125 requests.
        HttpResponseMessage? refused = null;
        var requests = 0;
        while (refused is null && requests < 300)
        {
            var response = await client.GetAsync("/");
            requests++;
            if (response.Headers.Contains("x-weft-error"))
                refused = response;
        }

        Assert.NotNull(refused);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("retry-budget-exhausted", refused.Headers.GetValues("x-weft-error").Single());
        Assert.Contains("answered 503", await refused.Content.ReadAsStringAsync());
        Assert.InRange(requests, 100, 200);
    }

    [Fact]
    public async Task Retries_WithoutRetryOn_UpstreamErrorPassesThroughUntouched()
    {
        await using var bad = await Backend.StartAsync(a => a.Run(c =>
        {
            c.Response.StatusCode = 503;
            c.Response.Headers["x-from"] = "app";
            return c.Response.WriteAsync("app says no");
        }));
        var response = await GetOnceAsync("pay", Mesh.Snapshot(1, [("pay", [Mesh.Endpoint("b", bad.Address)])]));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("app", response.Headers.GetValues("x-from").Single());
        Assert.False(response.Headers.Contains("x-weft-error"));
        Assert.Equal("app says no", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RequestTimeout_SlowBackend_Returns504Timeout()
    {
        await using var slow = await Backend.StartHangingAsync();
        var response = await GetOnceAsync("slow", Mesh.Snapshot(1, [("slow", [Mesh.Endpoint("s", slow.Address)])],
            Mesh.Router("slow", new ServiceRouteDestination { RequestTimeout = TimeSpan.FromMilliseconds(300) })));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("timeout", response.Headers.GetValues("x-weft-error").Single());
        Assert.Contains("request timeout of 300 ms", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PerTryTimeout_EveryTryTimesOut_Returns504PerTryTimeout()
    {
        await using var slow = await Backend.StartHangingAsync();
        var response = await GetOnceAsync("slow", Mesh.Snapshot(1, [("slow", [Mesh.Endpoint("s", slow.Address)])],
            Mesh.Router("slow", new ServiceRouteDestination { PerTryTimeout = TimeSpan.FromMilliseconds(100), NumRetries = 1, RetryOn = ["reset"] })));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("per-try-timeout", response.Headers.GetValues("x-weft-error").Single());
        Assert.Contains("2 attempts", await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// An HTTP/1.1 client of the outbound listener; with <paramref name="layered"/> its requests carry
    /// <c>Connection: close</c>, which the fast path leaves to Kestrel and the layered path.
    /// </summary>
    private static HttpClient Caller(Weft.Proxy.Hosting.ProxyHost proxy, string host, bool layered)
    {
        var client = Mesh.Client(proxy.OutboundAddress, host);
        client.DefaultRequestHeaders.ConnectionClose = layered;
        return client;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MaxConcurrentRequests1_SecondConcurrentRequest_Gets503Overflow_AndTheLimitFreesAfterTheFirst(bool layered)
    {
        await using var slow = await Backend.StartGatedAsync();
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        var limits = new UpstreamConfig { Overrides = [new UpstreamSettings { Name = "slow", Limits = new UpstreamLimits { MaxConcurrentRequests = 1 } }] };
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("slow", [Mesh.Endpoint("s", slow.Address)])], Mesh.Defaults("frontend", upstreams: limits)));
        using var client = Caller(proxy, "slow", layered);

        var first = client.GetAsync("/");
        await slow.Entered;
        var second = await client.GetAsync("/");
        slow.Release();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.Equal("overflow", second.Headers.GetValues("x-weft-error").Single());
        Assert.Contains("circuit breaker", await second.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        // Both finished: the one request the limit allows is free again, request after request.
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        Assert.Equal(layered, proxy.FastPath!.FallBacks > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConsecutiveFailures_EjectTheFailingEndpoint_SoLaterRequestsAllSucceedWithoutRetries(bool layered)
    {
        await using var good = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("good")));
        await using var bad = await Backend.StartFailingAsync();
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        // No retries: a 503 reaches the caller until outlier detection, fed by each attempt's report, ejects the endpoint.
        var outlier = new UpstreamConfig
        {
            Defaults = new UpstreamSettings { PassiveHealthCheck = new PassiveHealthCheck { MaxFailures = 3, MaxEjectionPercent = 50, BaseEjectionTime = TimeSpan.FromMinutes(10) } },
        };
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("pay", [Mesh.Endpoint("g", good.Address), Mesh.Endpoint("b", bad.Address)])],
            Mesh.Defaults("frontend", upstreams: outlier),
            new ServiceResolverEntry { Kind = ConfigKinds.ServiceResolver, Name = "pay", LoadBalancer = new LoadBalancerConfig { Policy = "round_robin" } }));
        using var client = Caller(proxy, "pay", layered);

        var statuses = new List<int>();
        for (var i = 0; i < 30; i++)
            statuses.Add((int)(await client.GetAsync("/")).StatusCode);

        // Round robin sends every other request to the failing endpoint until its third failure ejects it.
        Assert.Equal(3, statuses.Count(s => s == 503));
        Assert.All(statuses.Skip(10), s => Assert.Equal(200, s));
        Assert.Equal(layered, proxy.FastPath!.FallBacks > 0);
    }

    [Fact]
    public async Task UnknownUpstream_Returns404WithHeaderAndOneLineBody()
    {
        var response = await GetOnceAsync("nosuch", Mesh.Snapshot(3, []));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("unknown-upstream", response.Headers.GetValues("x-weft-error").Single());
        Assert.Equal("weft: no service named \"nosuch\" in the mesh config (version 3); the Host header names the upstream service\n", body);
    }

    [Fact]
    public async Task NoHealthyEndpoint_Returns503WithHeaderAndBody()
    {
        var response = await GetOnceAsync("payments", Mesh.Snapshot(4, [("payments", [])]));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("no-healthy-endpoint", response.Headers.GetValues("x-weft-error").Single());
        Assert.Equal("weft: no healthy endpoint for service \"payments\" (0 passing or warning in mesh config version 4)\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ConnectFailure_NothingListening_Returns502ConnectFailure()
    {
        var response = await GetOnceAsync("gone", Mesh.Snapshot(1, [("gone", [Mesh.Endpoint("g", new IPEndPoint(IPAddress.Loopback, 9))])]));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("connect-failure", response.Headers.GetValues("x-weft-error").Single());
        Assert.StartsWith("weft: could not connect to \"gone\" at 127.0.0.1:9", await response.Content.ReadAsStringAsync());
    }
}
