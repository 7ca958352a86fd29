using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// The HTTP/1.1 fast path, end to end over loopback: what it takes must come out as the layered path would answer,
/// and what it does not take must reach the layered path on the same connection.
/// </summary>
public class FastPathTests
{
    private static readonly byte[] Hello = "hello"u8.ToArray();

    /// <summary>Whether the proxy's fast path runs on the epoll engine (the default; <c>WEFT_FAST_ENGINE=0</c> turns it off).</summary>
    protected virtual bool FastEngine => ProxyOptions.FastEngineByEnvironment;

    private async Task<ProxyHost> ProxyToAsync(string service, params IPEndPoint[] endpoints) =>
        await ProxyToAsync(service, endpoints, []);

    private async Task<ProxyHost> ProxyToAsync(string service, IPEndPoint[] endpoints, ConfigEntry[] entries, bool fastPath = true)
    {
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastPath = fastPath, FastEngine = FastEngine });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [(service, endpoints.Select((e, i) => Mesh.Endpoint($"{service}-{i}", e)).ToArray())], entries)).Applied);
        return proxy;
    }

    [Fact]
    public async Task KeepAlive_ManySequentialAndConcurrentRequests_AllAnsweredOnTheFastPath()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync($"{c.Request.Path} {c.Request.Headers.Host}")));
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
        {
            var wrong = 0;
            for (var i = 0; i < 50; i++)
            {
                if (await client.GetStringAsync($"/w{worker}/{i}") != $"/w{worker}/{i} pay")
                    wrong++;
            }

            return wrong;
        }));

        Assert.All(answers, wrong => Assert.Equal(0, wrong));
        Assert.InRange(proxy.FastPath!.Connections, 1, 8);
        Assert.Equal(0, proxy.FastPath.FallBacks);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(1024 * 1024)]
    public async Task Post_ContentLengthBody_ArrivesByteExact(int size)
    {
        await using var backend = await Backend.StartAsync(a => a.Run(async c =>
        {
            var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            await c.Response.WriteAsync($"{body.Length} {Convert.ToHexString(SHA256.HashData(body.ToArray()))}");
        }));
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");
        var payload = RandomNumberGenerator.GetBytes(size);

        for (var i = 0; i < 3; i++)
        {
            var response = await client.PostAsync("/upload", new ByteArrayContent(payload));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{size} {Convert.ToHexString(SHA256.HashData(payload))}", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(0, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task Responses_ChunkedHeadNoContentNotModifiedAndLarge_KeepTheirFramingOnOneConnection()
    {
        var big = RandomNumberGenerator.GetBytes(300_000);
        await using var backend = await FramingApp.StartAsync(big, bigWithLength: false);
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        for (var round = 0; round < 2; round++)
            await FramingApp.CheckRoundAsync(raw, "pay", big, bigWithLength: false);

        Assert.Equal(0, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task CloseDelimitedResponse_ReachesTheClientWhole_AndThenTheConnectionCloses()
    {
        await using var upstream = new RawUpstream(_ => (Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"), true));
        await using var proxy = await ProxyToAsync("legacy", upstream.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("GET / HTTP/1.1\r\nHost: legacy\r\n\r\n");
        var response = await raw.ReadResponseAsync();

        Assert.Equal("until the end", response.Text);
        Assert.Equal("close", response.Header("Connection"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ResponseHeadersNamedInConnection_AreHopByHop_AndNotPassedOn(bool fastPath)
    {
        await using var upstream = new RawUpstream(_ => (Encoding.ASCII.GetBytes(
            "HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nX-Hop: internal\r\nX-End: kept\r\nConnection: x-other\r\nX-Other: 1\r\nContent-Length: 2\r\n\r\nok"), false));
        await using var proxy = await ProxyToAsync("legacy", [upstream.Address], [], fastPath);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        for (var i = 0; i < 2; i++)
        {
            await raw.SendAsync("GET / HTTP/1.1\r\nHost: legacy\r\n\r\n");
            var response = await raw.ReadResponseAsync();

            Assert.Equal("ok", response.Text);
            Assert.Equal("kept", response.Header("X-End"));
            Assert.Null(response.Header("X-Hop"));
            Assert.Null(response.Header("X-Other"));
            Assert.Null(response.Header("Connection"));
        }

        Assert.Equal(1, upstream.Connections);
        Assert.Equal(0, proxy.FastPath?.FallBacks ?? 0);
    }

    [Theory]
    [InlineData(true, "X-Hop, keep-alive")]
    [InlineData(true, "X-Hop")]
    // Not with keep-alive beside the name on the layered path: Kestrel rewrites that value to "keep-alive" alone.
    [InlineData(false, "X-Hop")]
    public async Task RequestHeadersNamedInConnection_AreHopByHop_AndDoNotReachTheUpstream(bool fastPath, string connection)
    {
        // The upstream answers with the head it received, so the test sees what the proxy sent.
        await using var upstream = new RawUpstream(head =>
        {
            var body = Encoding.ASCII.GetBytes(head);
            return ([.. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n"), .. body], false);
        });
        await using var proxy = await ProxyToAsync("legacy", [upstream.Address], [], fastPath);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        for (var i = 0; i < 2; i++)
        {
            // (RawUpstream reads heads only, so no body here; the framing case is the test below.)
            await raw.SendAsync($"GET /{i} HTTP/1.1\r\nHost: legacy\r\nConnection: {connection}\r\nX-Hop: secret\r\nX-End: kept\r\n" +
                "Keep-Alive: timeout=5\r\nconnection: x-other\r\nX-Other: 1\r\n\r\n");
            var response = await raw.ReadResponseAsync();
            var received = response.Text.Split("\r\n").Skip(1).Select(line => line[..line.IndexOf(':', StringComparison.Ordinal)].ToLowerInvariant()).ToList();

            Assert.Equal(200, response.Status);
            Assert.StartsWith($"GET /{i} HTTP/1.1", response.Text, StringComparison.Ordinal);
            Assert.Contains("x-end", received);
            Assert.Contains("host", received);
            Assert.DoesNotContain("x-hop", received);
            Assert.DoesNotContain("x-other", received);
            Assert.DoesNotContain("keep-alive", received);
            Assert.DoesNotContain("connection", received);
        }

        Assert.Equal(1, upstream.Connections);
        Assert.Equal(0, proxy.FastPath?.FallBacks ?? 0);
    }

    [Fact]
    public async Task RequestConnectionNamingHostOrContentLength_IsLeftToTheLayeredPath_WhichKeepsTheFraming()
    {
        await using var upstream = new RawUpstream(head =>
        {
            var body = Encoding.ASCII.GetBytes(head);
            return ([.. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n"), .. body], false);
        });
        await using var proxy = await ProxyToAsync("legacy", upstream.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("POST / HTTP/1.1\r\nHost: legacy\r\nConnection: Content-Length, Host\r\nContent-Length: 2\r\n\r\nhi");
        var response = await raw.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Contains("\r\nHost: legacy", response.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nContent-Length: 2", response.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task EarlyHints_ReachTheClientBeforeTheFinalResponse()
    {
        await using var upstream = new RawUpstream(_ => (Encoding.ASCII.GetBytes(
            "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n" +
            "HTTP/1.1 103 Early Hints\r\nLink: </app.js>; rel=preload\r\n\r\n" +
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), false));
        await using var proxy = await ProxyToAsync("legacy", upstream.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("GET / HTTP/1.1\r\nHost: legacy\r\n\r\n");
        var css = await raw.ReadResponseAsync();
        var js = await raw.ReadResponseAsync();
        var final = await raw.ReadResponseAsync();
        await raw.SendAsync("GET /again HTTP/1.1\r\nHost: legacy\r\n\r\n");
        await raw.ReadResponseAsync();
        await raw.ReadResponseAsync();
        var again = await raw.ReadResponseAsync();

        Assert.Equal((103, "</app.css>; rel=preload"), (css.Status, css.Header("Link")));
        Assert.Equal((103, "</app.js>; rel=preload"), (js.Status, js.Header("Link")));
        Assert.Equal((200, "hello"), (final.Status, final.Text));
        Assert.Equal((200, "hello"), (again.Status, again.Text));
        Assert.Equal(0, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task RequestWithConnectionClose_IsAnswered_AndThenTheConnectionCloses()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("path " + c.Request.Path)));
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("GET /first HTTP/1.1\r\nHost: pay\r\n\r\n");
        var first = await raw.ReadResponseAsync();
        await raw.SendAsync("GET /last HTTP/1.1\r\nHost: pay\r\nConnection: close\r\n\r\n");
        var last = await raw.ReadResponseAsync();

        Assert.Equal("path /first", first.Text);
        Assert.Equal("path /last", last.Text);
        Assert.Equal("close", last.Header("Connection"));
        Assert.True(await raw.ClosedByPeerAsync());
    }

    [Fact]
    public async Task PipelinedRequests_OnOneConnection_AreAnsweredInOrder()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("path " + c.Request.Path)));
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync(string.Concat(Enumerable.Range(0, 5).Select(i => $"GET /{i} HTTP/1.1\r\nHost: pay\r\n\r\n")) +
            "POST /body HTTP/1.1\r\nHost: pay\r\nContent-Length: 3\r\n\r\nabcGET /last HTTP/1.1\r\nHost: pay\r\n\r\n");

        for (var i = 0; i < 5; i++)
            Assert.Equal($"path /{i}", (await raw.ReadResponseAsync()).Text);
        Assert.Equal("path /body", (await raw.ReadResponseAsync()).Text);
        Assert.Equal("path /last", (await raw.ReadResponseAsync()).Text);
    }

    [Fact]
    public async Task RequestsTheFastPathDoesNotTake_AfterOnesItDid_AreServedByTheLayeredPathOnTheSameConnection()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync($"{c.Request.Method} {c.Request.Path} '{await reader.ReadToEndAsync()}'");
        }));
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("GET /fast HTTP/1.1\r\nHost: pay\r\n\r\n");
        Assert.Equal("GET /fast ''", (await raw.ReadResponseAsync()).Text);
        await raw.SendAsync("POST /chunked HTTP/1.1\r\nHost: pay\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        Assert.Equal("POST /chunked 'hello'", (await raw.ReadResponseAsync()).Text);
        await raw.SendAsync("GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n");
        var unknown = await raw.ReadResponseAsync();
        Assert.Equal(404, unknown.Status);
        Assert.Equal("unknown-upstream", unknown.Header("x-weft-error"));
        await raw.SendAsync("GET /again HTTP/1.1\r\nHost: pay\r\n\r\n");
        Assert.Equal("GET /again ''", (await raw.ReadResponseAsync()).Text);

        Assert.Equal(1, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task UpgradeRequest_GoesToTheLayeredPath()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("upgradable " + c.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>()?.IsUpgradableRequest)));
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("GET /ws HTTP/1.1\r\nHost: pay\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        var response = await raw.ReadResponseAsync();

        Assert.Equal("upgradable True", response.Text);
        Assert.Equal(1, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task UpstreamClosesAnIdlePooledConnection_NextRequestStillSucceeds()
    {
        // Answers with keep-alive framing, then closes anyway: the pooled connection is dead when next used.
        await using var upstream = new RawUpstream(_ => (Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), true));
        await using var proxy = await ProxyToAsync("legacy", upstream.Address);
        using var client = Mesh.Client(proxy.OutboundAddress, "legacy");

        for (var i = 0; i < 5; i++)
        {
            var response = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Hello, await response.Content.ReadAsByteArrayAsync());
        }

        Assert.True(upstream.Connections >= 5);
    }

    [Fact]
    public async Task Status503_IsRetriedOnAnotherEndpoint_PerTheRouter()
    {
        await using var failing = await Backend.StartFailingAsync();
        await using var good = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("good")));
        await using var proxy = await ProxyToAsync("pay", [failing.Address, good.Address],
            [Mesh.Router("pay", new ServiceRouteDestination { NumRetries = 2, RetryOnStatusCodes = [503] }),
             new ServiceResolverEntry { Kind = ConfigKinds.ServiceResolver, Name = "pay", LoadBalancer = new LoadBalancerConfig { Policy = "round_robin" } }]);
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");

        for (var i = 0; i < 20; i++)
            Assert.Equal("good", await client.GetStringAsync("/"));

        Assert.True(failing.Requests > 0);
        Assert.Equal(0, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task ConnectionRefused_IsRetriedOnAnotherEndpoint_AndAloneGives502ConnectFailure()
    {
        await using var good = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("good")));
        var dead = Mesh.FreeAddress();
        await using var proxy = await ProxyToAsync("pay", [dead, good.Address],
            [new ServiceResolverEntry { Kind = ConfigKinds.ServiceResolver, Name = "pay", LoadBalancer = new LoadBalancerConfig { Policy = "round_robin" } }]);
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");

        for (var i = 0; i < 6; i++)
            Assert.Equal("good", await client.GetStringAsync("/"));

        proxy.ConfigSink.Apply(Mesh.Snapshot(2, [("pay", [Mesh.Endpoint("dead", dead)])]));
        var response = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("connect-failure", response.Headers.GetValues("x-weft-error").Single());
        Assert.Contains("could not connect to \"pay\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PerTryTimeout_Returns504WithTheCause_AndTheConnectionServesOn()
    {
        await using var slow = await Backend.StartSlowPathAsync();
        await using var proxy = await ProxyToAsync("slow", [slow.Address],
            // /quick runs under the same per-try timeout, on a new upstream connection: 1 s leaves it room on a loaded machine.
            [Mesh.Router("slow", new ServiceRouteDestination { PerTryTimeout = TimeSpan.FromSeconds(1) })]);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("GET /slow HTTP/1.1\r\nHost: slow\r\n\r\n");
        var timedOut = await raw.ReadResponseAsync();
        await raw.SendAsync("GET /quick HTTP/1.1\r\nHost: slow\r\n\r\n");
        var next = await raw.ReadResponseAsync();

        Assert.Equal(504, timedOut.Status);
        Assert.Equal("per-try-timeout", timedOut.Header("x-weft-error"));
        Assert.Contains("per-try timeout of 1000 ms", timedOut.Text);
        Assert.Equal("quick", next.Text);
        Assert.Equal(0, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task ClientDisconnectsMidResponse_UpstreamExchangeIsCancelled_AndTheProxyServesOn()
    {
        await using var backend = await Backend.StartStreamingAsync();
        await using var proxy = await ProxyToAsync("pay", backend.Address);
        using (var raw = await RawClient.ConnectAsync(proxy.OutboundAddress))
        {
            await raw.SendAsync("GET /stream HTTP/1.1\r\nHost: pay\r\n\r\n");
            // The response has begun; then the client goes away.
            Assert.True(await raw.ReadSomeAsync() > 0);
            raw.Close();
        }

        await backend.Aborted.WaitAsync(TimeSpan.FromSeconds(15));
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");
        Assert.Equal("fine", await client.GetStringAsync("/"));
    }

    [Fact]
    public async Task Drain_LetsAnInFlightFastPathRequestFinish()
    {
        await using var slow = await Backend.StartGatedAsync();
        var proxy = await ProxyToAsync("slow", slow.Address);
        using var raw = await RawClient.ConnectAsync(proxy.OutboundAddress);

        await raw.SendAsync("GET / HTTP/1.1\r\nHost: slow\r\n\r\n");
        await slow.Entered;
        var stopping = proxy.StopAsync(TimeSpan.FromSeconds(30));
        // The drain has begun once the listener refuses new connections; an answer released before that could win the
        // race and rightly keep its connection. (Kestrel asks open connections to close only after it stopped
        // accepting; the fast path closes from the drain's start, so an answer in between closes too. It did not, once
        // in 11 full runs of this assembly.)
        await RefusesConnectionsAsync(proxy.OutboundAddress, TimeSpan.FromSeconds(10));
        slow.Release();
        var response = await raw.ReadResponseAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("finished", response.Text);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await raw.ClosedByPeerAsync());
        Assert.Equal(0, proxy.FastPath!.FallBacks);
    }

    [Fact]
    public async Task FastPathOff_EveryRequestTakesTheLayeredPath()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("layered")));
        await using var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastPath = false });
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("pay", [Mesh.Endpoint("p", backend.Address)])]));
        using var client = Mesh.Client(proxy.OutboundAddress, "pay");

        Assert.Equal("layered", await client.GetStringAsync("/"));
        Assert.Null(proxy.FastPath);
    }

    private static async Task RefusesConnectionsAsync(IPEndPoint address, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        while (true)
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(address, timeout.Token);
            }
            catch (System.Net.Sockets.SocketException)
            {
                return;
            }

            await Task.Delay(10, timeout.Token);
        }
    }
}
