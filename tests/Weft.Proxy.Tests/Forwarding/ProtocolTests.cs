using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Weft.Core.Mesh;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Forwarding;

/// <summary>
/// Every protocol through two sidecars over mTLS: the client's upstream listener → the server's inbound → the app. The
/// app's h2c (gRPC) is served by Weft's own HTTP/2 server; <see cref="ProtocolKestrelServerTests"/> runs the same with
/// <c>WEFT_FAST_H2_SERVER=0</c> (Kestrel).
/// </summary>
public class ProtocolTests : IDisposable
{
    private readonly TestCa _ca = new();

    /// <summary>Whether the sidecars serve HTTP/2 with their own server (the app's h2c, and our client's on the inbound).</summary>
    protected virtual bool OwnServer => true;

    public void Dispose()
    {
        _ca.Dispose();
        GC.SuppressFinalize(this);
    }

    private Task<ProxyHost> SecureProxyAsync(string service, IPEndPoint app, params string[] upstreams)
    {
        var workload = _ca.Workload(service);
        return ProxyHost.StartAsync(Mesh.Options(service, app, upstreams) with { Workload = workload, Time = workload.Time, FastH2Server = OwnServer });
    }

    private async Task<(ProxyHost Client, ProxyHost Server)> TwoHopsAsync(string service, IPEndPoint app, string? protocol)
    {
        var server = await SecureProxyAsync(service, app);
        var entries = protocol is null ? [] : new[] { Mesh.Defaults(service, protocol) };
        Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [], entries)).Applied);
        var client = await SecureProxyAsync("frontend", Mesh.NoApp, service);
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(1, [(service, [Mesh.Endpoint("s1", server.InboundAddress, sidecar: true)])], entries)).Applied);
        return (client, server);
    }

    [Fact]
    public async Task WebSocket_EchoThroughTwoSidecars()
    {
        await using var app = await Backend.StartAsync(a =>
        {
            a.UseWebSockets();
            a.Run(async c =>
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
        });
        var (client, server) = await TwoHopsAsync("chat", app.Address, null);
        await using var _c = client;
        await using var _s = server;

        using var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await ws.ConnectAsync(new Uri($"ws://{client.UpstreamAddresses["chat"]}/echo"), cts.Token);
        foreach (var text in new[] { "hello", "through", "two hops" })
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
    public async Task Grpc_UnaryAndServerStreamingThroughTwoSidecars()
    {
        var health = new HealthServiceImpl();
        health.SetStatus("orders", HealthCheckResponse.Types.ServingStatus.Serving);
        await using var app = await Backend.StartAsync(a => a.MapGrpcService<HealthServiceImpl>(), HttpProtocols.Http2, s =>
        {
            s.AddGrpc();
            s.AddSingleton(health);
        });
        var (client, server) = await TwoHopsAsync("grpc-orders", app.Address, "grpc");
        await using var _c = client;
        await using var _s = server;

        using var channel = GrpcChannel.ForAddress($"http://{client.UpstreamAddresses["grpc-orders"]}");
        var grpc = new Health.HealthClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var unary = await grpc.CheckAsync(new HealthCheckRequest { Service = "orders" }, cancellationToken: cts.Token);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, unary.Status);

        var missing = await Assert.ThrowsAsync<RpcException>(() => grpc.CheckAsync(new HealthCheckRequest { Service = "nope" }, cancellationToken: cts.Token).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode); // the status travels in trailers

        using var watch = grpc.Watch(new HealthCheckRequest { Service = "orders" }, cancellationToken: cts.Token);
        Assert.True(await watch.ResponseStream.MoveNext(cts.Token));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
        health.SetStatus("orders", HealthCheckResponse.Types.ServingStatus.NotServing);
        Assert.True(await watch.ResponseStream.MoveNext(cts.Token));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, watch.ResponseStream.Current.Status);
        // The app's h2c reached the upstream listener's server this class is about.
        Assert.Equal(OwnServer, client.Metrics.OwnH2?.AppServed >= 1);
    }

    [Fact]
    public async Task Grpc_NoHealthyEndpoint_IsAGrpcUnavailableStatusThatSaysWhy()
    {
        await using var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp, "grpc-orders") with { FastH2Server = OwnServer });
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("grpc-orders", [])], Mesh.Defaults("grpc-orders", "grpc")));
        using var channel = GrpcChannel.ForAddress($"http://{proxy.UpstreamAddresses["grpc-orders"]}");
        var grpc = new Health.HealthClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => grpc.CheckAsync(new HealthCheckRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.StartsWith("weft: no healthy endpoint for service \"grpc-orders\"", error.Status.Detail);
        Assert.Equal(OwnServer, proxy.Metrics.OwnH2?.AppServed >= 1);
    }

    [Fact]
    public async Task Tcp_EchoThroughTwoSidecars_CountsBytes()
    {
        using var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        var serve = Task.Run(async () =>
        {
            using var peer = await echo.AcceptTcpClientAsync();
            var stream = peer.GetStream();
            await stream.CopyToAsync(stream);
            peer.Client.Shutdown(SocketShutdown.Send);
        });
        var (client, server) = await TwoHopsAsync("redis", (IPEndPoint)echo.LocalEndpoint, "tcp");
        await using var _c = client;
        await using var _s = server;

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(client.UpstreamAddresses["redis"]);
        var stream = tcp.GetStream();
        var payload = Encoding.ASCII.GetBytes("PING raw bytes through two sidecars\r\n");
        await stream.WriteAsync(payload);
        tcp.Client.Shutdown(SocketShutdown.Send);
        using var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(TimeSpan.FromSeconds(20));
        await serve.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(payload, received.ToArray());
        var stats = client.Metrics.Tcp("redis");
        Assert.Equal(payload.Length, stats.BytesToUpstream);
        Assert.Equal(payload.Length, stats.BytesFromUpstream);
    }

    [Fact]
    public async Task Http_ToTcpService_OnOutbound_Returns503NoRoute()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("redis", [Mesh.Endpoint("r", new IPEndPoint(IPAddress.Loopback, 9))])], Mesh.Defaults("redis", "tcp")));
        using var client = Mesh.Client(proxy.OutboundAddress, "redis");

        var response = await client.GetAsync("/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("no-route", response.Headers.GetValues("x-weft-error").Single());
    }
}
