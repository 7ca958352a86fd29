using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// Every protocol through <c>weft proxy</c> processes as a user runs them: a client sidecar and one sidecar per server
/// app, mTLS between them, config over the control-plane stream. <c>./test.sh</c> runs this class twice: with the JIT
/// build, and with <c>WEFT_PROXY_EXE=.weft/aot/weft</c>, so trimming or reflection lost in the Native AOT build fails
/// here (the <c>SidecarProcess</c> trait picks these tests out).
/// </summary>
[Trait(Category, SidecarProcessTrait)]
public sealed class SidecarProcessTests(SidecarProcessMesh mesh) : IClassFixture<SidecarProcessMesh>
{
    public const string Category = "Category";
    public const string SidecarProcessTrait = "SidecarProcess";

    private static readonly bool Native = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(WeftProxyLauncher.Variable));

    [Fact]
    public void Banner_SaysWhichBuildRuns_TheFastPathsInlineCompletionsAreOn_AndTheSidecarHopIsTheOwnH2Pair()
    {
        var banner = mesh.Client.Output;
        Assert.Contains(Native ? "runtime     Native AOT (.NET " : "runtime     JIT (.NET ", banner);
        // Set by reflection on an internal runtime property: a trimmed build that lost it would say "off".
        Assert.Contains("fast-path inline completions on", banner);
        // The hop between sidecars is Weft's own HTTP/2 pair unless WEFT_FAST_H2=0 / WEFT_FAST_H2_SERVER=0.
        Assert.Contains("sidecar hop h2 client weft, h2 server weft for weft clients", banner);
        // The app's h2c (gRPC) on the outbound and upstream listeners is served by the same own server.
        Assert.Contains("app h2c     h2 server weft on the outbound and upstream listeners", banner);
    }

    [Fact]
    public async Task Http1_ToAnInstanceWithoutASidecar_TakesTheFastPath()
    {
        // Only the fast path passes a 103 to the client (Kestrel and YARP drop interim responses), so seeing it proves
        // which path carried the request. Two requests on one connection: the fast path keeps it alive.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(mesh.Client.Outbound);
        var stream = tcp.GetStream();
        for (var i = 0; i < 2; i++)
        {
            await stream.WriteAsync("GET /page HTTP/1.1\r\nHost: legacy\r\n\r\n"u8.ToArray());
            var response = await ReadUntilAsync(stream, EarlyHintsApp.Body);
            Assert.StartsWith("HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n", response);
        }
    }

    [Fact]
    public async Task Http1_ThroughTwoSidecarsOverMtls_ReachesTheApp_WithTheCallersIdentity()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{mesh.Client.Outbound}/hello");
        request.Headers.Host = "web";
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("web-app /hello", await response.Content.ReadAsStringAsync());
        // The server's sidecar counts the request under the identity in the client sidecar's certificate.
        var stats = await http.GetFromJsonAsync<JsonElement>($"http://{mesh.Web.Admin}/stats");
        Assert.Contains(stats.GetProperty("Routes").EnumerateArray(), r =>
            r.GetProperty("Direction").GetString() == "inbound" && r.GetProperty("Peer").GetString() == "frontend"
            && r.GetProperty("Requests").GetProperty("2xx").GetInt64() > 0);
    }

    [Fact]
    public async Task Grpc_UnaryAndServerStreaming_ThroughTwoSidecars()
    {
        using var channel = GrpcChannel.ForAddress($"http://{mesh.Client.Upstreams["grpc-orders"]}");
        var grpc = new Health.HealthClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var unary = await grpc.CheckAsync(new HealthCheckRequest { Service = "orders" }, cancellationToken: cts.Token);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, unary.Status);
        var missing = await Assert.ThrowsAsync<RpcException>(() => grpc.CheckAsync(new HealthCheckRequest { Service = "nope" }, cancellationToken: cts.Token).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode); // the status travels in trailers

        using var watch = grpc.Watch(new HealthCheckRequest { Service = "watched" }, cancellationToken: cts.Token);
        Assert.True(await watch.ResponseStream.MoveNext(cts.Token));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
        mesh.GrpcHealth.SetStatus("watched", HealthCheckResponse.Types.ServingStatus.NotServing);
        Assert.True(await watch.ResponseStream.MoveNext(cts.Token));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, watch.ResponseStream.Current.Status);
    }

    [Fact]
    public async Task WebSocket_EchoThroughTwoSidecars()
    {
        using var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await ws.ConnectAsync(new Uri($"ws://{mesh.Client.Upstreams["web"]}/echo"), cts.Token);
        foreach (var text in new[] { "hello", "through", "two sidecar processes" })
        {
            await ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cts.Token);
            var buffer = new byte[1024];
            var r = await ws.ReceiveAsync(buffer, cts.Token);
            Assert.Equal(text, Encoding.UTF8.GetString(buffer, 0, r.Count));
        }

        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
        Assert.Equal(WebSocketState.Closed, ws.State);
    }

    [Fact]
    public async Task Tcp_EchoThroughTwoSidecars()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(mesh.Client.Upstreams["redis"]);
        var stream = tcp.GetStream();
        var payload = Encoding.ASCII.GetBytes("PING raw bytes through two sidecar processes\r\n");
        await stream.WriteAsync(payload);
        tcp.Client.Shutdown(SocketShutdown.Send);
        using var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public async Task ConfigWrite_ReachesTheSidecarOverTheStream()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        async Task<string> CallAsync(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{mesh.Client.Outbound}{path}");
            request.Headers.Host = "catalog";
            using var response = await http.SendAsync(request);
            return await response.Content.ReadAsStringAsync();
        }

        Assert.Equal("catalog-v1", await CallAsync("/v2/items"));
        await mesh.Mesh.PutAsync("/v1/config", """
            {"Kind":"service-router","Name":"catalog","Routes":[{"Match":{"HTTP":{"PathPrefix":"/v2/"}},"Destination":{"Service":"catalog-v2","PrefixRewrite":"/"}}]}
            """);

        await MeshFixture.WaitUntilAsync(async () => await CallAsync("/v2/items") == "catalog-v2", "the route sends /v2/ to catalog-v2");
        Assert.Equal("catalog-v1", await CallAsync("/items"));
    }

    [Fact]
    public async Task Sigterm_DeregistersFirst_LetsTheInFlightRequestFinish_AndExitsZero()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = await mesh.Mesh.StartAppAsync("slow", async _ =>
        {
            arrived.TrySetResult();
            await release.Task;
            return Results.Text("finished after SIGTERM");
        });
        await mesh.Mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"slow-1","Name":"slow","Address":"127.0.0.1","Port":{{slow.Port}}}""");
        await using var sidecar = await SidecarProcess.StartAsync(mesh.Mesh.ServerAddress, "draining", appPort: 1, drainTime: "20s");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{sidecar.Outbound}/work");
        request.Headers.Host = "slow";
        await MeshFixture.WaitUntilAsync(async () =>
        {
            var clusters = await http.GetFromJsonAsync<JsonElement>($"http://{sidecar.Admin}/clusters");
            return clusters.TryGetProperty("slow", out var cluster) && cluster.GetProperty("Endpoints").GetArrayLength() == 1;
        }, "the sidecar knows slow's instance");

        var inFlight = http.SendAsync(request);
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await sidecar.TerminateAsync();
        await MeshFixture.WaitUntilAsync(async () =>
            (await mesh.Mesh.Api.GetFromJsonAsync<JsonElement>("/v1/catalog/service/draining")).GetArrayLength() == 0,
            "SIGTERM deregisters the instance while its request is still in flight");
        Assert.False(sidecar.Process.HasExited, "the sidecar waits for its in-flight request");
        release.SetResult();

        using var response = await inFlight.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("finished after SIGTERM", await response.Content.ReadAsStringAsync());
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await sidecar.Process.WaitForExitAsync(deadline.Token);
        Assert.True(sidecar.Process.ExitCode == 0, sidecar.Output);
    }

    private static async Task<string> ReadUntilAsync(NetworkStream stream, string end)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (!text.ToString().EndsWith(end, StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, cts.Token);
            if (n == 0) Assert.Fail($"connection closed after: {text}");
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return text.ToString();
    }
}

/// <summary>
/// The mesh <see cref="SidecarProcessTests"/> share (started once; process start is most of their time): an in-process
/// control plane; apps for HTTP + WebSocket (<c>web</c>), gRPC (<c>grpc-orders</c>), TCP echo (<c>redis</c>), each
/// behind a sidecar process; <c>legacy</c>, <c>catalog</c> and <c>catalog-v2</c> registered without a sidecar; and the
/// client sidecar process <c>frontend</c> with an <c>--upstream</c> listener for web, grpc-orders and redis.
/// </summary>
public sealed class SidecarProcessMesh : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];
    private TcpListener? _echo;
    private EarlyHintsApp? _legacy;
    private Task? _echoLoop;

    internal MeshFixture Mesh { get; } = new();

    internal SidecarProcess Client { get; private set; } = null!;

    internal SidecarProcess Web { get; private set; } = null!;

    internal HealthServiceImpl GrpcHealth { get; } = new();

    public async Task InitializeAsync()
    {
        await Mesh.StartServerAsync();
        await Mesh.PutAsync("/v1/config", """{"Kind":"service-defaults","Name":"grpc-orders","Protocol":"grpc"}""");
        await Mesh.PutAsync("/v1/config", """{"Kind":"service-defaults","Name":"redis","Protocol":"tcp"}""");

        var web = await StartWebAppAsync();
        GrpcHealth.SetStatus("orders", HealthCheckResponse.Types.ServingStatus.Serving);
        GrpcHealth.SetStatus("watched", HealthCheckResponse.Types.ServingStatus.Serving);
        var grpc = await StartGrpcAppAsync();
        _echo = new TcpListener(IPAddress.Loopback, 0);
        _echo.Start();
        _echoLoop = EchoAsync(_echo);
        _legacy = EarlyHintsApp.Start();
        var catalog = await Mesh.StartAppAsync("catalog-v1");
        var catalogV2 = await Mesh.StartAppAsync("catalog-v2");
        foreach (var (id, name, port) in new[] { ("legacy-1", "legacy", _legacy.Port), ("catalog-1", "catalog", catalog.Port), ("catalog-v2-1", "catalog-v2", catalogV2.Port) })
            await Mesh.PutAsync("/v1/agent/service/register", $$"""{"ID":"{{id}}","Name":"{{name}}","Address":"127.0.0.1","Port":{{port}}}""");

        var servers = await Task.WhenAll(
            SidecarProcess.StartAsync(Mesh.ServerAddress, "web", web),
            SidecarProcess.StartAsync(Mesh.ServerAddress, "grpc-orders", grpc),
            SidecarProcess.StartAsync(Mesh.ServerAddress, "redis", ((IPEndPoint)_echo.LocalEndpoint).Port));
        _owned.AddRange(servers);
        Web = servers[0];
        Client = await SidecarProcess.StartAsync(Mesh.ServerAddress, "frontend", appPort: 1, upstreams: ["web", "grpc-orders", "redis"]);
        _owned.Add(Client);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await MeshFixture.WaitUntilAsync(async () =>
        {
            var clusters = await http.GetFromJsonAsync<JsonElement>($"http://{Client.Admin}/clusters");
            return new[] { "web", "grpc-orders", "redis", "legacy", "catalog" }.All(s =>
                clusters.TryGetProperty(s, out var cluster) && cluster.GetProperty("Endpoints").GetArrayLength() == 1);
        }, "the client sidecar knows every instance", TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        _echo?.Stop();
        if (_echoLoop is not null) await _echoLoop;
        _legacy?.Dispose();
        await Mesh.DisposeAsync();
    }

    private async Task<int> StartWebAppAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.UseWebSockets();
        app.Map("/echo", async (HttpContext c) =>
        {
            using var socket = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024];
            while (true)
            {
                var r = await socket.ReceiveAsync(buffer, c.RequestAborted);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", c.RequestAborted);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, r.Count), r.MessageType, r.EndOfMessage, c.RequestAborted);
            }
        });
        app.Map("/{**path}", (HttpContext c) => Results.Text($"web-app {c.Request.Path}"));
        return await StartAsync(app);
    }

    private async Task<int> StartGrpcAppAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(GrpcHealth);
        var app = builder.Build();
        app.MapGrpcService<HealthServiceImpl>();
        return await StartAsync(app);
    }

    private async Task<int> StartAsync(WebApplication app)
    {
        await app.StartAsync();
        _owned.Add(app);
        return new Uri(app.Urls.First()).Port;
    }

    private static async Task EchoAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                var peer = await listener.AcceptTcpClientAsync();
                _ = Task.Run(async () =>
                {
                    using (peer)
                    {
                        var stream = peer.GetStream();
                        await stream.CopyToAsync(stream);
                        peer.Client.Shutdown(SocketShutdown.Send);
                    }
                });
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }
}

/// <summary>
/// An HTTP/1.1 app on a bare socket that answers every request head with a 103 Early Hints and then a 200 (Kestrel
/// cannot send a 103). Requests without bodies only; connections are kept alive.
/// </summary>
internal sealed class EarlyHintsApp : IDisposable
{
    public const string Body = "legacy";

    private static readonly byte[] Response = Encoding.ASCII.GetBytes(
        "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n"
        + $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {Body.Length}\r\n\r\n{Body}");

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static EarlyHintsApp Start()
    {
        var app = new EarlyHintsApp();
        app._listener.Start();
        _ = app.AcceptAsync();
        return app;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var peer = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = ServeAsync(peer);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Stopped.
        }
    }

    private async Task ServeAsync(TcpClient peer)
    {
        using (peer)
        {
            var stream = peer.GetStream();
            var buffer = new byte[8192];
            var pending = new StringBuilder();
            try
            {
                while (true)
                {
                    var n = await stream.ReadAsync(buffer, _stop.Token);
                    if (n == 0) return;
                    pending.Append(Encoding.ASCII.GetString(buffer, 0, n));
                    int end;
                    while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                    {
                        pending.Remove(0, end + 4);
                        await stream.WriteAsync(Response, _stop.Token);
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The sidecar closed its pooled connection, or the test ended.
            }
        }
    }
}
