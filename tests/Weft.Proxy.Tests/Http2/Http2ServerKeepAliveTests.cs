using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.Hosting;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 server's keep-alive: a sidecar's inbound listener (plaintext, ours for a marked client) on a driven
/// clock, a raw client that answers its PINGs or not, and an app whose request hangs until it is aborted.
/// </summary>
public sealed class Http2ServerKeepAliveTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TaskCompletionSource _hangStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _hangAborted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Task<Backend> AppAsync() => Backend.StartAsync(a =>
    {
        a.MapGet("/hello", () => "hello");
        a.MapGet("/hang", async (HttpContext c) =>
        {
            _hangStarted.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, c.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                _hangAborted.TrySetResult();
            }
        });
    });

    private async Task<ProxyHost> SidecarAsync(Backend app)
    {
        var server = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with { Time = _time });
        Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        return server;
    }

    [Fact]
    public async Task ClientThatStopsAnswering_IsPinged_ThenLosesItsConnection_AndTheAppSeesItsRequestAborted()
    {
        await using var app = await AppAsync();
        await using var server = await SidecarAsync(app);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);
        await raw.GetAsync(1, "/hang");
        await _hangStarted.Task.WaitAsync(Deadline);

        _time.Advance(Http2KeepAlive.Default.Interval);
        var ping = await raw.ReadUntilAsync(h => h.Type == FrameType.Ping);
        Assert.NotNull(ping);
        Assert.Equal(0, ping.Value.Header.Flags & FrameFlags.Ack);

        _time.Advance(Http2KeepAlive.Default.Timeout);
        Assert.Null(await raw.ReadUntilAsync(_ => false)); // the sidecar closed the connection
        await _hangAborted.Task.WaitAsync(Deadline); // and the request it carried to the app ended
        Assert.Equal(1, server.Metrics.DeadPeersAsServer.Count); // weft_proxy_h2_keepalive_dead_total{side="server"}
    }

    [Fact]
    public async Task ClientAnsweringThePing_KeepsItsConnection()
    {
        await using var app = await AppAsync();
        await using var server = await SidecarAsync(app);
        await using var raw = await RawH2Client.ConnectAsync(server.InboundAddress);
        await raw.GetAsync(1, "/hello");
        Assert.Equal(200, (await raw.ReadResponseAsync(1)).Status);

        _time.Advance(Http2KeepAlive.Default.Interval);
        var ping = await raw.ReadUntilAsync(h => h.Type == FrameType.Ping);
        Assert.NotNull(ping);
        // The answer, then a request: once its response is back, the sidecar has read the answer before it.
        await raw.SendFrameAsync(FrameType.Ping, FrameFlags.Ack, 0, ping.Value.Payload);
        await raw.GetAsync(3, "/hello");
        Assert.Equal(200, (await raw.ReadResponseAsync(3)).Status);

        _time.Advance(Http2KeepAlive.Default.Timeout);
        await raw.GetAsync(5, "/hello");
        Assert.Equal(200, (await raw.ReadResponseAsync(5)).Status);
        Assert.Equal(1, server.Metrics.OwnH2!.Served);
        Assert.Equal(0, server.Metrics.DeadPeersAsServer.Count);
    }
}
