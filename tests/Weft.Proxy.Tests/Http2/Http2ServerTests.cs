using System.Buffers.Binary;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Hosting;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The inbound listener's own HTTP/2 server (<c>WEFT_FAST_H2_SERVER</c>): our own client's connections are served by
/// it, through the same pipeline as Kestrel's (intentions, the caller's identity); everyone else's still by Kestrel.
/// </summary>
public sealed class Http2ServerTests : IDisposable
{
    private readonly TestCa _ca = new();

    public void Dispose()
    {
        _ca.Dispose();
        GC.SuppressFinalize(this);
    }

    private static Task<Backend> AppAsync() => Backend.StartAsync(a =>
    {
        a.MapGet("/hello", () => "hello from orders");
        a.MapGet("/big", (HttpContext c) => c.Response.Body.WriteAsync(Big).AsTask());
        a.MapPost("/echo", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            c.Response.Headers["x-length"] = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await c.Response.Body.WriteAsync(body.ToArray());
        });
        a.MapGet("/{**rest}", (HttpContext c) => "app: " + c.Request.Path);
    });

    private static readonly byte[] Big = [.. Enumerable.Range(0, 1024 * 1024).Select(i => (byte)(i * 7))];

    private async Task<ProxyHost> ServerSidecarAsync(IPEndPoint app, MeshSnapshot? snapshot = null, bool ownServer = true)
    {
        var server = await ProxyHost.StartAsync(Mesh.Options("orders", app) with { Workload = _ca.Workload("orders"), Time = _ca.Time, FastH2Server = ownServer });
        Assert.True(server.ConfigSink.Apply(snapshot ?? Mesh.Snapshot(1, [])).Applied);
        return server;
    }

    private async Task<ProxyHost> ClientSidecarAsync(IPEndPoint inbound, bool ownClient = true)
    {
        var client = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { Workload = _ca.Workload("frontend"), Time = _ca.Time, FastH2 = ownClient });
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", inbound, sidecar: true)])])).Applied);
        return client;
    }

    private static async Task<ProxyHost> PlainServerSidecarAsync(IPEndPoint app)
    {
        var server = await ProxyHost.StartAsync(Mesh.Options("orders", app) with { FastH2Server = true });
        Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        return server;
    }

    [Fact]
    public async Task OwnClientsConnection_IsServedByOurs_AndAPlainH2Clients_ByKestrel_AsMetricsSay()
    {
        await using var app = await AppAsync();
        await using var server = await ServerSidecarAsync(app.Address);
        await using (var own = await ClientSidecarAsync(server.InboundAddress))
        {
            using var http = Mesh.Client(own.OutboundAddress, "orders");
            Assert.Equal("hello from orders", await http.GetStringAsync("/hello"));
        }

        await using (var plain = await ClientSidecarAsync(server.InboundAddress, ownClient: false))
        {
            using var http = Mesh.Client(plain.OutboundAddress, "orders");
            Assert.Equal("hello from orders", await http.GetStringAsync("/hello"));
        }

        Assert.Equal(1, server.Metrics.OwnH2!.Served);
        Assert.Equal(1, server.Metrics.OwnH2.Kestrel);
        using var admin = Mesh.Client(server.AdminAddress);
        var metrics = await admin.GetStringAsync("/metrics");
        Assert.Contains("weft_proxy_inbound_h2_connections_total{service=\"orders\",server=\"weft\"} 1", metrics);
        Assert.Contains("weft_proxy_inbound_h2_connections_total{service=\"orders\",server=\"kestrel\"} 1", metrics);
    }

    [Fact]
    public async Task WithTheOwnServerOff_OwnClientsConnection_IsServedByKestrel()
    {
        await using var app = await AppAsync();
        await using var server = await ServerSidecarAsync(app.Address, ownServer: false);
        await using var own = await ClientSidecarAsync(server.InboundAddress);
        using var http = Mesh.Client(own.OutboundAddress, "orders");

        Assert.Equal("hello from orders", await http.GetStringAsync("/hello"));
        Assert.Null(server.Metrics.OwnH2);
        Assert.Equal(1, own.FastPath!.SidecarH2Exchanges);
    }

    [Fact]
    public async Task ThroughTwoSidecarsOverMtls_Get_PostWithBody_1MiBResponse_And100Concurrent_AllOnOurs()
    {
        await using var app = await AppAsync();
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync(server.InboundAddress);
        using var http = Mesh.Client(client.OutboundAddress, "orders");

        Assert.Equal("hello from orders", await http.GetStringAsync("/hello"));

        var payload = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("0123456789abcdef", 20_000)));
        using var post = await http.PostAsync("/echo", new ByteArrayContent(payload));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal(payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(post.Headers.GetValues("x-length")));
        Assert.Equal(payload, await post.Content.ReadAsByteArrayAsync());

        Assert.Equal(Big, await http.GetByteArrayAsync("/big"));

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => http.GetStringAsync($"/item/{i}?q={i}")));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"app: /item/{i}"), answers);

        Assert.True(server.Metrics.OwnH2!.Served >= 1);
        Assert.Equal(0, server.Metrics.OwnH2.Kestrel);
    }

    [Fact]
    public async Task RequestBodyOverTheStreamWindow_ArrivesWhole_AsTheAppConsumesIt()
    {
        await using var app = await AppAsync();
        await using var server = await ServerSidecarAsync(app.Address);
        await using var client = await ClientSidecarAsync(server.InboundAddress);
        using var http = Mesh.Client(client.OutboundAddress, "orders");
        var payload = new byte[4 * Http2ServerConnection.StreamWindow + 123];
        new Random(7).NextBytes(payload);

        using var post = await http.PostAsync("/echo", new ByteArrayContent(payload));

        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal(payload, await post.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, server.Metrics.OwnH2!.Served);
    }

    [Fact]
    public async Task ClientResettingAStream_AbortsTheRequestToTheApp_AndTheConnectionServesOn()
    {
        await using var app = await Backend.StartSlowPathAsync();
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);

        await raw.GetAsync(1, "/slow");
        await app.Arrived.WaitAsync(TimeSpan.FromSeconds(15));
        await raw.SendFrameAsync(FrameType.RstStream, 0, 1, [0, 0, 0, (byte)Http2ErrorCode.Cancel]);

        await app.Aborted.WaitAsync(TimeSpan.FromSeconds(15));
        await raw.GetAsync(3, "/quick");
        var (status, body, _) = await raw.ReadResponseAsync(3);
        Assert.Equal(200, status);
        Assert.Equal("quick", Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task IntentionsSeeTheCallersCertificate_ADenialIs403_AndAnL7PermissionMatches()
    {
        await using var app = await AppAsync();
        var intentions = new ServiceIntentionsEntry
        {
            Kind = ConfigKinds.ServiceIntentions,
            Name = "orders",
            Sources =
            [
                new SourceIntention
                {
                    Name = "frontend",
                    Permissions =
                    [
                        new IntentionPermission { Action = IntentionActions.Deny, Http = new IntentionHttpPermission { PathPrefix = "/admin" } },
                        new IntentionPermission { Action = IntentionActions.Allow, Http = new IntentionHttpPermission { PathPrefix = "/" } },
                    ],
                },
            ],
        }.Normalized();
        await using var server = await ServerSidecarAsync(app.Address, Mesh.Snapshot(1, [], intentions) with { IntentionsDefaultAllow = false });
        await using var client = await ClientSidecarAsync(server.InboundAddress);
        using var http = Mesh.Client(client.OutboundAddress, "orders");

        using var denied = await http.GetAsync("/admin/users");
        using var allowed = await http.GetAsync("/orders/1");

        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal("intention-denied", Assert.Single(denied.Headers.GetValues("x-weft-error")));
        var reason = await denied.Content.ReadAsStringAsync();
        Assert.Contains("frontend", reason);
        Assert.Contains("Permissions[0] denies GET /admin/users", reason);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("app: /orders/1", await allowed.Content.ReadAsStringAsync());
        Assert.Equal(1, server.Metrics.IntentionDenials);
        Assert.Equal(1, server.Metrics.OwnH2!.Served);
    }

    [Fact]
    public async Task WithTheAccessLogOn_BodiesStillArriveWhole_AndTheLineNamesTheCaller()
    {
        // Bodies only: the log's bytes_out is counted before the response body's last flush on either server (the app
        // client writes BodyWriter and leaves the final flush to the response's end).
        var lines = await AccessLogLinesAsync(ownServer: true);

        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.Equal("frontend", l.GetProperty("source").GetString()));
        Assert.All(lines, l => Assert.Equal("inbound", l.GetProperty("direction").GetString()));
        Assert.All(lines, l => Assert.Equal(200, l.GetProperty("status").GetInt32()));
        Assert.Equal(["/hello", "/big"], lines.Select(l => l.GetProperty("path").GetString()));
    }

    private async Task<List<System.Text.Json.JsonElement>> AccessLogLinesAsync(bool ownServer)
    {
        var path = Path.Combine(Path.GetTempPath(), $"weft-h2server-{Guid.NewGuid():N}.log");
        try
        {
            await using var app = await AppAsync();
            var server = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with
            {
                Workload = _ca.Workload("orders"), Time = _ca.Time, AccessLogPath = path, FastH2Server = ownServer,
            });
            try
            {
                Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
                await using var client = await ClientSidecarAsync(server.InboundAddress);
                using var http = Mesh.Client(client.OutboundAddress, "orders");

                Assert.Equal("hello from orders", await http.GetStringAsync("/hello"));
                Assert.Equal(Big, await http.GetByteArrayAsync("/big"));
                Assert.Equal(ownServer ? 1 : 0, server.Metrics.OwnH2?.Served ?? 0);
            }
            finally
            {
                await server.DisposeAsync(); // writes what is queued and closes the file
            }

            return [.. File.ReadAllLines(path).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)];
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Drain_SendsGoAway_FinishesTheRequestInFlight_ThenCloses()
    {
        await using var app = await Backend.StartGatedAsync("finished");
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);
        await raw.GetAsync(1, "/slow");
        await app.Entered;

        var stopping = server.StopAsync(TimeSpan.FromSeconds(15));
        var goAway = await raw.ReadUntilAsync(h => h.Type == FrameType.GoAway);
        Assert.NotNull(goAway);
        Assert.Equal(1, (int)BinaryPrimitives.ReadUInt32BigEndian(goAway.Value.Payload));
        Assert.Equal(Http2ErrorCode.NoError, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(goAway.Value.Payload.AsSpan(4)));
        Assert.False(stopping.IsCompleted);

        app.Release();
        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("finished", Encoding.ASCII.GetString(body));
        Assert.Null(await raw.ReadFrameAsync()); // closed once its last stream ended
        await stopping.WaitAsync(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task ServerSidecarStoppingMidRequest_FinishesIt_AndLaterCallsGoToTheOtherSidecar()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await Backend.StartAsync(a => a.Run(async c =>
        {
            if (c.Request.Path == "/slow")
            {
                arrived.TrySetResult();
                await release.Task;
            }

            await c.Response.WriteAsync("done " + c.Request.Path);
        }));
        var first = await ServerSidecarAsync(app.Address);
        await using var second = await ServerSidecarAsync(app.Address);
        var client = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { Workload = _ca.Workload("frontend"), Time = _ca.Time, FastH2 = true });
        await using var _c = client;
        // The slow call can only go to the first; the rest may go to either until it stops.
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", first.InboundAddress, sidecar: true)])])).Applied);
        using var http = Mesh.Client(client.OutboundAddress, "orders");
        var slow = http.GetStringAsync("/slow");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(2, [("orders",
            [Mesh.Endpoint("o1", first.InboundAddress, sidecar: true), Mesh.Endpoint("o2", second.InboundAddress, sidecar: true)])])).Applied);

        var stopping = first.StopAsync(TimeSpan.FromSeconds(15));
        Assert.False(stopping.IsCompleted);
        release.SetResult();

        Assert.Equal("done /slow", await slow.WaitAsync(TimeSpan.FromSeconds(15)));
        await stopping.WaitAsync(TimeSpan.FromSeconds(15));
        for (var i = 0; i < 6; i++)
            Assert.Equal($"done /after/{i}", await http.GetStringAsync($"/after/{i}"));
        Assert.Equal(1, first.Metrics.OwnH2!.Served);
        Assert.Equal(1, second.Metrics.OwnH2!.Served);
    }

    [Fact]
    public async Task ConnectionWithoutStreamsForTheIdleTimeout_GetsGoAway_AndIsClosed()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await AppAsync();
        // Keep-alive off: the raw client answers no PING, and the clock jumps past its timeout (Http2ServerKeepAliveTests).
        await using var server = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with { Time = time, H2KeepAliveInterval = TimeSpan.Zero });
        Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);
        await raw.GetAsync(1, "/hello");
        Assert.Equal(200, (await raw.ReadResponseAsync(1)).Status);

        var goAway = raw.ReadUntilAsync(h => h.Type == FrameType.GoAway);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        // The stream leaves the connection just after its last frame: advance until the idle check sees it gone.
        while (!goAway.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(Http2ServerConnection.IdleTimeout / 4);
            await Task.WhenAny(goAway, Task.Delay(20));
        }

        var frame = await goAway;
        Assert.NotNull(frame);
        Assert.Equal(1, (int)BinaryPrimitives.ReadUInt32BigEndian(frame.Value.Payload));
        Assert.Equal(Http2ErrorCode.NoError, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(frame.Value.Payload.AsSpan(4)));
        Assert.Null(await raw.ReadFrameAsync());
    }

    [Fact]
    public async Task GarbageAfterTheMarkedSettings_GetsGoAwayProtocolError_AndTheSidecarServesOthers()
    {
        await using var app = await AppAsync();
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using (var bad = await RawH2Client.ConnectAsync(server.InboundAddress))
        {
            // A HEADERS frame on stream 0 is a connection error (RFC 9113 6.2).
            await bad.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders, 0, [0x82]);
            var goAway = await bad.ReadUntilAsync(h => h.Type == FrameType.GoAway);
            Assert.NotNull(goAway);
            Assert.Equal(Http2ErrorCode.ProtocolError, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(goAway.Value.Payload.AsSpan(4)));
            Assert.Null(await bad.ReadFrameAsync());
        }

        await using var good = await RawH2Client.ConnectAsync(server.InboundAddress);
        await good.GetAsync(1, "/hello");
        var (status, body, _) = await good.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("hello from orders", Encoding.ASCII.GetString(body));
        Assert.Equal(2, server.Metrics.OwnH2!.Served);
    }

    [Fact]
    public async Task BrokenHpack_GetsGoAwayCompressionError()
    {
        await using var app = await AppAsync();
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);

        // Index 0 does not exist (RFC 7541 6.1).
        await raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x80]);

        var goAway = await raw.ReadUntilAsync(h => h.Type == FrameType.GoAway);
        Assert.NotNull(goAway);
        Assert.Equal(Http2ErrorCode.CompressionError, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(goAway.Value.Payload.AsSpan(4)));
    }

    public static TheoryData<string, (string, string)[]> MalformedHeads => new()
    {
        { "no :path", [(":method", "GET"), (":scheme", "http"), (":authority", "orders")] },
        { "no :method", [(":scheme", "http"), (":authority", "orders"), (":path", "/")] },
        { "upper-case name", [(":method", "GET"), (":scheme", "http"), (":authority", "orders"), (":path", "/"), ("X-Upper", "1")] },
        { "connection-specific", [(":method", "GET"), (":scheme", "http"), (":authority", "orders"), (":path", "/"), ("connection", "close")] },
        { "pseudo after regular", [(":method", "GET"), (":scheme", "http"), ("accept", "*/*"), (":path", "/")] },
        { "unknown pseudo", [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":protocol", "websocket")] },
    };

    [Theory]
    [MemberData(nameof(MalformedHeads))]
    public async Task MalformedRequestHead_ResetsTheStreamWithProtocolError_AndTheConnectionGoesOn(string why, (string, string)[] fields)
    {
        var hits = 0;
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            Interlocked.Increment(ref hits);
            return c.Response.WriteAsync("ok");
        }));
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);

        await raw.SendHeadersAsync(1, endStream: true, fields);
        var reset = await raw.ReadUntilAsync(h => h.Type is FrameType.RstStream or FrameType.Headers or FrameType.GoAway);

        Assert.True(reset is { Header.Type: FrameType.RstStream, Header.StreamId: 1 }, why);
        Assert.Equal(Http2ErrorCode.ProtocolError, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(reset!.Value.Payload));
        await raw.GetAsync(3, "/fine");
        var (status, body, _) = await raw.ReadResponseAsync(3);
        Assert.Equal(200, status);
        Assert.Equal("ok", Encoding.ASCII.GetString(body));
        Assert.Equal(1, Volatile.Read(ref hits));
    }

    [Fact]
    public async Task StreamsBeyondMaxConcurrentStreams_AreRefused()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await Backend.StartAsync(a => a.Run(async c =>
        {
            await release.Task;
            await c.Response.WriteAsync("ok");
        }));
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);

        var settings = await raw.ReadUntilAsync(h => h.Type == FrameType.Settings && (h.Flags & FrameFlags.Ack) == 0);
        Assert.Contains(Entries(settings!.Value.Payload), e => e.Id == SettingId.MaxConcurrentStreams && e.Value == Http2ServerConnection.MaxConcurrentStreams);
        for (var i = 0; i <= Http2ServerConnection.MaxConcurrentStreams; i++)
            await raw.GetAsync(1 + 2 * i, "/wait");

        var refused = await raw.ReadUntilAsync(h => h.Type is FrameType.RstStream or FrameType.GoAway);
        Assert.Equal(FrameType.RstStream, refused!.Value.Header.Type);
        Assert.Equal(1 + 2 * Http2ServerConnection.MaxConcurrentStreams, refused.Value.Header.StreamId);
        Assert.Equal(Http2ErrorCode.RefusedStream, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(refused.Value.Payload));

        release.SetResult();
        var (status, _, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Ping_IsAnsweredWithTheSameData()
    {
        await using var app = await AppAsync();
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);

        await raw.SendFrameAsync(FrameType.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
        var pong = await raw.ReadUntilAsync(h => h.Type == FrameType.Ping);

        Assert.Equal(FrameFlags.Ack, pong!.Value.Header.Flags);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], pong.Value.Payload);
    }

    [Fact]
    public async Task UnmarkedRawConnection_IsLeftToKestrel()
    {
        await using var app = await AppAsync();
        await using var server = await PlainServerSidecarAsync(app.Address);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress, marked: false);

        await raw.GetAsync(1, "/hello");
        var (status, body, _) = await raw.ReadResponseAsync(1);

        Assert.Equal(200, status);
        Assert.Equal("hello from orders", Encoding.ASCII.GetString(body));
        Assert.Equal(0, server.Metrics.OwnH2!.Served);
        Assert.Equal(1, server.Metrics.OwnH2.Kestrel);
    }

    private static List<(SettingId Id, uint Value)> Entries(byte[] payload)
    {
        var entries = new List<(SettingId, uint)>();
        Frames.ReadSettings(payload, (id, value) => entries.Add((id, value)));
        return entries;
    }
}
