using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Proxy.Hosting;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;
using Weft.Tests.Shared;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// The fast path carrying HTTP/1.1 from the app to a service behind sidecars: the hop between the two sidecars is h2
/// over mTLS, by default through Weft's own HTTP/2 client to the server sidecar's own HTTP/2 server, and what the client
/// and the far app see must be what the layered path gives them.
/// </summary>
public class SidecarFastPathTests : IDisposable
{
    private readonly TestCa _ca = new();

    /// <summary>Whether the client sidecar's hop uses Weft's own HTTP/2 client (the default; off with <c>WEFT_FAST_H2=0</c>).</summary>
    protected virtual bool FastH2 => true;

    /// <summary>Whether the server sidecar serves our own client's connections with its own HTTP/2 server (<c>WEFT_FAST_H2_SERVER</c>).</summary>
    protected virtual bool FastH2Server => true;

    /// <summary>Whether both sidecars' fast paths run on the epoll engine (the default; <c>WEFT_FAST_ENGINE=0</c> turns it off).</summary>
    protected virtual bool FastEngine => ProxyOptions.FastEngineByEnvironment;

    /// <summary>The fast path's exchanges with sidecars, counting only the own h2 client's when it is on (so its tests prove it carried them).</summary>
    private long Exchanges(ProxyHost? proxy) => FastH2 ? proxy!.FastPath!.SidecarH2Exchanges : proxy!.FastPath!.SidecarExchanges;

    public void Dispose()
    {
        _ca.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A server sidecar for "orders" in front of <paramref name="app"/>, over mTLS.</summary>
    private async Task<ProxyHost> ServerSidecarAsync(IPEndPoint app)
    {
        var server = await ProxyHost.StartAsync(Mesh.Options("orders", app) with { Workload = _ca.Workload("orders"), Time = _ca.Time, FastH2Server = FastH2Server, FastEngine = FastEngine });
        Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        return server;
    }

    /// <summary>The client sidecar (frontend) with "orders" at the given sidecars' inbound addresses.</summary>
    private async Task<ProxyHost> ClientSidecarAsync(IPEndPoint[] inbound, ConfigEntry[]? entries = null, bool fastPath = true, TimeSpan? keepAlive = null)
    {
        var client = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with
        {
            Workload = _ca.Workload("frontend"),
            Time = _ca.Time,
            FastPath = fastPath,
            FastH2 = FastH2,
            FastEngine = FastEngine,
            H2KeepAliveInterval = keepAlive ?? Http2KeepAlive.Default.Interval,
            H2KeepAliveTimeout = keepAlive ?? Http2KeepAlive.Default.Timeout,
        });
        var endpoints = inbound.Select((a, i) => Mesh.Endpoint($"orders-{i}", a, sidecar: true)).ToArray();
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", endpoints)], entries ?? [])).Applied);
        return client;
    }

    private static ServiceRouterEntry Router(ServiceRouteDestination destination) => new()
    {
        Kind = ConfigKinds.ServiceRouter,
        Name = "orders",
        Routes = [new ServiceRoute { Match = new ServiceRouteMatch { Http = new ServiceRouteHttpMatch { PathPrefix = "/" } }, Destination = destination }],
    };

    private static readonly ServiceResolverEntry RoundRobin =
        new() { Kind = ConfigKinds.ServiceResolver, Name = "orders", LoadBalancer = new LoadBalancerConfig { Policy = "round_robin" } };

    [Fact]
    public async Task TwoSidecarsOverMtls_RequestsTakeTheFastPath_AndReachTheApp()
    {
        var hits = 0;
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            Interlocked.Increment(ref hits);
            return c.Response.WriteAsync($"{c.Request.Method} {c.Request.Path}{c.Request.QueryString} {c.Request.Host} {c.Request.Protocol}");
        }));
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync([server.InboundAddress]);
        using var raw = await RawClient.ConnectAsync(client.OutboundAddress);

        for (var i = 0; i < 20; i++)
        {
            await raw.SendAsync($"GET /orders/{i}?q=a%20b HTTP/1.1\r\nHost: orders\r\n\r\n");
            var response = await raw.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            Assert.Equal($"GET /orders/{i}?q=a%20b orders HTTP/1.1", response.Text);
        }

        Assert.Equal(20, Volatile.Read(ref hits));
        Assert.Equal(20, Exchanges(client));
        Assert.Equal(0, client.FastPath!.FallBacks);
        Assert.Equal(0, client.Workload!.TlsHandshakeFailures);
        Assert.Equal(0, server.Workload!.TlsHandshakeFailures);
        // Which HTTP/2 server took the hop: ours only for our own client with ours on.
        Assert.Equal(FastH2 && FastH2Server ? 1 : 0, server.Metrics.OwnH2?.Served ?? 0);
    }

    [Fact]
    public async Task PeerSidecarGoneSilent_ItsRequestFailsAsUpstreamReset_AndTheNextOneIsAnswered()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var server = await ServerSidecarAsync(app.Address);
        // The client reaches the server sidecar through a relay whose open connections can go silent without closing.
        await using var relay = FreezingRelay.Start(server.InboundAddress);
        await using var client = await ClientSidecarAsync([relay.Address], keepAlive: TimeSpan.FromMilliseconds(300));
        using var http = Mesh.Client(client.OutboundAddress, "orders");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);

        relay.FreezeOpenConnections();
        var started = Stopwatch.GetTimestamp();
        // Without keep-alive the caller would wait for as long as TCP keeps the dead connection (minutes).
        var failed = await http.GetAsync("/").WaitAsync(TimeSpan.FromSeconds(30));
        var waited = Stopwatch.GetElapsedTime(started);

        Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        Assert.Equal("upstream-reset", failed.Headers.GetValues("x-weft-error").Single());
        Assert.True(waited < TimeSpan.FromSeconds(15), $"the dead connection was found after {waited}");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);
        Assert.Equal(2, relay.Accepted);
        // What an operator's Prometheus sees: the own client counts the connection it took for dead
        // (SocketsHttpHandler's own keep-alive, in that variant, is not counted).
        using var admin = Mesh.Client(client.AdminAddress);
        var samples = PromText.Parse(await admin.GetStringAsync("/metrics"));
        Assert.Equal(FastH2 ? 1 : 0, samples.Value("weft_proxy_h2_keepalive_dead_total", ("side", "client")));
        Assert.Equal(0, samples.Value("weft_proxy_h2_keepalive_dead_total", ("side", "server")));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(1024 * 1024)]
    public async Task Post_ContentLengthBodies_ArriveByteExact_BothWays(int size)
    {
        await using var app = await Backend.StartAsync(a => a.Run(async c =>
        {
            var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            // Echoed back whole, without a Content-Length when it is big (chunked from the app; the client gets it chunked).
            if (body.Length < 100)
                c.Response.ContentLength = body.Length;
            c.Response.Headers["x-sha"] = Convert.ToHexString(SHA256.HashData(body.ToArray()));
            await c.Response.Body.WriteAsync(body.ToArray());
        }));
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync([server.InboundAddress]);
        using var http = Mesh.Client(client.OutboundAddress, "orders");
        var payload = RandomNumberGenerator.GetBytes(size);

        for (var i = 0; i < 3; i++)
        {
            var response = await http.PostAsync("/upload", new ByteArrayContent(payload));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), response.Headers.GetValues("x-sha").Single());
            Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(3, Exchanges(client));
        Assert.Equal(0, client.FastPath!.FallBacks);
    }

    [Fact]
    public async Task Responses_ChunkedHeadNoContentNotModifiedAndLarge_KeepTheirMeaningOnOneConnection()
    {
        var big = RandomNumberGenerator.GetBytes(300_000);
        await using var app = await FramingApp.StartAsync(big, bigWithLength: true);
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync([server.InboundAddress]);
        using var raw = await RawClient.ConnectAsync(client.OutboundAddress);

        for (var round = 0; round < 2; round++)
            await FramingApp.CheckRoundAsync(raw, "orders", big, bigWithLength: true);

        Assert.Equal(2 * FramingApp.RequestsPerRound, Exchanges(client));
        Assert.Equal(0, client.FastPath!.FallBacks);
    }

    [Fact]
    public async Task HeadersBothWays_AreWhatTheLayeredPathGives()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            c.Response.Headers["x-echo"] = string.Join("|", c.Request.Headers
                .Where(h => h.Key is not "traceparent")
                .OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
                .Select(h => $"{h.Key.ToLowerInvariant()}={h.Value}"));
            c.Response.Headers["x-multi"] = new Microsoft.Extensions.Primitives.StringValues(["a", "b"]);
            c.Response.Headers["Alt-Svc"] = "h3=\":443\"";
            c.Response.ContentType = "text/plain";
            return c.Response.WriteAsync("ok");
        }));
        await using var server = await ServerSidecarAsync(app.Address);
        await using var fast = await ClientSidecarAsync([server.InboundAddress]);
        await using var layered = await ClientSidecarAsync([server.InboundAddress], fastPath: false);
        const string request = "POST /h HTTP/1.1\r\nHost: orders\r\nUser-Agent: test/1.0\r\nAccept: */*\r\nX-Custom: one\r\nx-custom: two\r\n" +
            "Connection: X-Req-Hop\r\nX-Req-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: secret\r\nTE: gzip\r\nCookie: a=1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc";

        async Task<RawResponse> SendAsync(ProxyHost proxy)
        {
            using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);
            await raw.SendAsync(request);
            return await raw.ReadResponseAsync();
        }

        var viaFast = await SendAsync(fast);
        var viaLayered = await SendAsync(layered);

        Assert.Equal(1, Exchanges(fast));
        Assert.Equal((viaLayered.Status, viaLayered.Text), (viaFast.Status, viaFast.Text));
        Assert.Equal(viaLayered.Header("x-echo"), viaFast.Header("x-echo"));
        Assert.DoesNotContain("proxy-authorization", viaFast.Header("x-echo"));
        Assert.DoesNotContain("x-req-hop", viaFast.Header("x-echo"));
        Assert.Matches("x-custom=one, ?two", viaFast.Header("x-echo"));
        var names = static (RawResponse r) => string.Join(",", r.Headers.Keys.Where(k => k != "Date").Select(k => k.ToLowerInvariant()).Order());
        Assert.Equal(names(viaLayered), names(viaFast));
        Assert.Null(viaFast.Header("Alt-Svc"));
    }

    [Fact]
    public async Task Status503FromTheFarSidecar_IsRetriedOnAnotherEndpoint_PerTheRouter()
    {
        await using var failing = await Backend.StartFailingAsync();
        await using var good = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("good")));
        await using var failingSidecar = await ServerSidecarAsync(failing.Address);
        await using var goodSidecar = await ServerSidecarAsync(good.Address);
        await using var client = await ClientSidecarAsync([failingSidecar.InboundAddress, goodSidecar.InboundAddress],
            [Router(new ServiceRouteDestination { NumRetries = 2, RetryOnStatusCodes = [503] }), RoundRobin]);
        using var http = Mesh.Client(client.OutboundAddress, "orders");

        for (var i = 0; i < 20; i++)
            Assert.Equal("good", await http.GetStringAsync("/"));

        Assert.True(failing.Requests > 0);
        Assert.Equal(20 + failing.Requests, Exchanges(client));
        Assert.Equal(0, client.FastPath!.FallBacks);
    }

    [Fact]
    public async Task PerTryTimeout_Returns504WithTheCause_AndTheConnectionServesOn()
    {
        await using var app = await Backend.StartSlowPathAsync();
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync([server.InboundAddress]);
        using var raw = await RawClient.ConnectAsync(client.OutboundAddress);

        // The first request opens the mTLS connection (and, in a fresh test process, JIT-compiles the whole path), which
        // the timeout must not have to cover: the per-try timeout comes with the next config version.
        await raw.SendAsync("GET /quick HTTP/1.1\r\nHost: orders\r\n\r\n");
        Assert.Equal("quick", (await raw.ReadResponseAsync()).Text);
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(2, [("orders", [Mesh.Endpoint("orders-0", server.InboundAddress, sidecar: true)])],
            Router(new ServiceRouteDestination { PerTryTimeout = TimeSpan.FromMilliseconds(300) }))).Applied);
        await raw.SendAsync("GET /slow HTTP/1.1\r\nHost: orders\r\n\r\n");
        var timedOut = await raw.ReadResponseAsync();
        await raw.SendAsync("GET /quick HTTP/1.1\r\nHost: orders\r\n\r\n");
        var next = await raw.ReadResponseAsync();

        Assert.Equal(504, timedOut.Status);
        Assert.Equal("per-try-timeout", timedOut.Header("x-weft-error"));
        Assert.Contains("per-try timeout of 300 ms", timedOut.Text);
        Assert.Equal("quick", next.Text);
        Assert.Equal(3, Exchanges(client));
        Assert.Equal(0, client.FastPath!.FallBacks);
    }

    [Fact]
    public async Task DeadSidecar_IsRetriedOnAnotherEndpoint_AndAloneGives502ConnectFailure()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("good")));
        await using var server = await ServerSidecarAsync(app.Address);
        var dead = Mesh.FreeAddress();
        await using var client = await ClientSidecarAsync([dead, server.InboundAddress], [RoundRobin]);
        using var http = Mesh.Client(client.OutboundAddress, "orders");

        for (var i = 0; i < 6; i++)
            Assert.Equal("good", await http.GetStringAsync("/"));

        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(2, [("orders", [Mesh.Endpoint("dead", dead, sidecar: true)])])).Applied);
        var response = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("connect-failure", response.Headers.GetValues("x-weft-error").Single());
        Assert.Contains("could not connect to \"orders\"", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, client.FastPath!.FallBacks);
    }

    [Fact]
    public async Task FarSidecarsOwnError_ReachesTheClientWithItsCause()
    {
        // The far sidecar's app is not listening: it answers 502 connect-failure itself, which passes through untouched.
        await using var server = await ServerSidecarAsync(Mesh.FreeAddress());
        await using var client = await ClientSidecarAsync([server.InboundAddress]);
        using var raw = await RawClient.ConnectAsync(client.OutboundAddress);

        await raw.SendAsync("GET / HTTP/1.1\r\nHost: orders\r\n\r\n");
        var response = await raw.ReadResponseAsync();

        Assert.Equal(502, response.Status);
        Assert.Equal("connect-failure", response.Header("x-weft-error"));
        Assert.Equal(1, Exchanges(client));
    }

    [Fact]
    public async Task ClientDisconnectsMidResponse_TheFarExchangeIsCancelled_AndTheProxyServesOn()
    {
        await using var app = await Backend.StartStreamingAsync();
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync([server.InboundAddress]);
        using (var raw = await RawClient.ConnectAsync(client.OutboundAddress))
        {
            await raw.SendAsync("GET /stream HTTP/1.1\r\nHost: orders\r\n\r\n");
            Assert.True(await raw.ReadSomeAsync() > 0);
            raw.Close();
        }

        await app.Aborted.WaitAsync(TimeSpan.FromSeconds(15));
        using var http = Mesh.Client(client.OutboundAddress, "orders");
        Assert.Equal("fine", await http.GetStringAsync("/"));
    }

    [Fact]
    public async Task EarlyAnswerFromTheFarApp_BeforeItTookAStreamedBody_ReachesTheCallerAtOnce()
    {
        // The far app refuses an upload at its head (413), then neither reads the rest nor closes.
        await using var app = new RawUpstream(
            head => head.StartsWith("POST", StringComparison.Ordinal)
                ? ("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!"u8.ToArray(), false)
                : ("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine"u8.ToArray(), false),
            stall: head => head.StartsWith("POST", StringComparison.Ordinal));
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync([server.InboundAddress]);
        const int size = 64 * 1024 * 1024;
        using (var raw = await RawClient.ConnectAsync(client.OutboundAddress))
        {
            await raw.SendAsync($"POST /upload HTTP/1.1\r\nHost: orders\r\nContent-Length: {size}\r\n\r\n");
            using var stopSending = new CancellationTokenSource();
            // The sidecar stops reading (and closes) once the answer is known.
            var sending = raw.StreamBodyAsync(size, stopSending.Token);

            // Without a timeout on the route, a send blocked on the far side would otherwise hold the answer for good.
            var response = await raw.ReadResponseAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal((413, "too big!"), (response.Status, response.Text));
            await stopSending.CancelAsync();
            raw.Close();
            await sending.WaitAsync(TimeSpan.FromSeconds(20));
        }

        using var http = Mesh.Client(client.OutboundAddress, "orders");
        Assert.Equal("fine", await http.GetStringAsync("/"));
    }
}
