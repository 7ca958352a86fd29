using Grpc.Core;
using Grpc.Net.Client;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;
using Weft.Proxy.Tests.Support.EchoProto;

namespace Weft.Proxy.Tests.Forwarding;

/// <summary>
/// An app's gRPC over h2c (prior knowledge) to the sidecar's outbound listener, routed by :authority to a gRPC service:
/// every call shape, statuses and trailers, a deadline and a cancellation that reach the service. Served by Weft's own
/// HTTP/2 server; <see cref="GrpcOutboundKestrelServerTests"/> runs the same with <c>WEFT_FAST_H2_SERVER=0</c> (Kestrel).
/// </summary>
public class GrpcOutboundTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>Whether the sidecar serves the app's h2c with its own HTTP/2 server.</summary>
    protected virtual bool OwnServer => true;

    private sealed class Setup(Backend app, ProxyHost proxy, GrpcChannel channel) : IAsyncDisposable
    {
        public ProxyHost Proxy => proxy;

        public Echo.EchoClient Client { get; } = new(channel);

        public async ValueTask DisposeAsync()
        {
            channel.Dispose();
            await proxy.DisposeAsync();
            await app.DisposeAsync();
        }
    }

    private async Task<Setup> StartAsync(EchoGrpcApp echo)
    {
        var app = await EchoGrpcApp.StartAsync(echo);
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastH2Server = OwnServer });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("echo", [Mesh.Endpoint("e1", app.Address)])], Mesh.Defaults("echo", "grpc"))).Applied);
        // The app names the service (:authority "echo") and connects to its sidecar's outbound listener.
        var handler = AppH2c.HandlerTo(proxy.OutboundAddress);
        var channel = GrpcChannel.ForAddress("http://echo", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        return new Setup(app, proxy, channel);
    }

    private void AssertServedBy(ProxyHost proxy) => AppH2c.AssertServedBy(proxy, OwnServer);

    [Fact]
    public async Task Unary_AnswersWithItsTrailers_AndAFailureKeepsItsStatusAndMessage()
    {
        await using var setup = await StartAsync(new EchoGrpcApp());
        using var cancel = new CancellationTokenSource(Deadline);

        using var call = setup.Client.UnaryAsync(new EchoMessage { Text = "hi" }, cancellationToken: cancel.Token);
        Assert.Equal("echo: hi", (await call).Text);
        Assert.Equal("1", call.GetTrailers().GetValue("x-echo-calls"));

        var failure = await Assert.ThrowsAsync<RpcException>(() => setup.Client.UnaryAsync(new EchoMessage { Text = "fail" }, cancellationToken: cancel.Token).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, failure.StatusCode);
        Assert.Equal("asked to fail", failure.Status.Detail);
        AssertServedBy(setup.Proxy);
    }

    [Fact]
    public async Task ServerStreaming_DeliversEveryMessage_ThenTheTrailersAfterTheData()
    {
        await using var setup = await StartAsync(new EchoGrpcApp());
        using var cancel = new CancellationTokenSource(Deadline);

        using var call = setup.Client.ServerStream(new EchoMessage { Text = "item", Count = 200 }, cancellationToken: cancel.Token);
        var received = new List<string>();
        await foreach (var message in call.ResponseStream.ReadAllAsync(cancel.Token))
            received.Add(message.Text);

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"item {i}"), received);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("1", call.GetTrailers().GetValue("x-echo-calls"));
        AssertServedBy(setup.Proxy);
    }

    [Fact]
    public async Task ClientStreaming_AllMessagesReachTheService_AndItsOneAnswerComesBack()
    {
        await using var setup = await StartAsync(new EchoGrpcApp());
        using var cancel = new CancellationTokenSource(Deadline);

        using var call = setup.Client.ClientStream(cancellationToken: cancel.Token);
        for (var i = 0; i < 50; i++)
            await call.RequestStream.WriteAsync(new EchoMessage { Text = $"m{i}" }, cancel.Token);
        await call.RequestStream.CompleteAsync();
        var answer = await call;

        Assert.Equal(50, answer.Count);
        Assert.Equal(string.Join(",", Enumerable.Range(0, 50).Select(i => $"m{i}")), answer.Text);
        Assert.Equal("1", call.GetTrailers().GetValue("x-echo-calls"));
        AssertServedBy(setup.Proxy);
    }

    [Fact]
    public async Task Bidi_EachAnswerArrivesBeforeTheNextMessageIsSent()
    {
        await using var setup = await StartAsync(new EchoGrpcApp());
        using var cancel = new CancellationTokenSource(Deadline);

        using var call = setup.Client.Bidi(cancellationToken: cancel.Token);
        for (var i = 1; i <= 10; i++)
        {
            // The request stays open: an answer only arrives if the response flows while the request body does.
            await call.RequestStream.WriteAsync(new EchoMessage { Text = $"ping {i}" }, cancel.Token);
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            Assert.Equal($"echo: ping {i}", call.ResponseStream.Current.Text);
            Assert.Equal(i, call.ResponseStream.Current.Count);
        }

        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        AssertServedBy(setup.Proxy);
    }

    [Fact]
    public async Task Deadline_EndsTheCallDeadlineExceeded_AndTheServiceSeesItsCallEnd()
    {
        var echo = new EchoGrpcApp();
        await using var setup = await StartAsync(echo);
        using var cancel = new CancellationTokenSource(Deadline);
        // One call first, so the deadline below is not spent on the first call's connections and JIT (on a loaded
        // machine that took over the second the deadline gives, and the call ended before its first message).
        Assert.Equal("echo: warm", (await setup.Client.UnaryAsync(new EchoMessage { Text = "warm" }, cancellationToken: cancel.Token)).Text);

        using var call = setup.Client.Hang(new EchoMessage(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancel.Token);
        Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal("started", call.ResponseStream.Current.Text);
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(cancel.Token));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await echo.Abandoned.Task.WaitAsync(Deadline);
        AssertServedBy(setup.Proxy);
    }

    [Fact]
    public async Task CallerCancelling_ReachesTheServiceThroughTheSidecar_AndTheConnectionServesOn()
    {
        var echo = new EchoGrpcApp();
        await using var setup = await StartAsync(echo);
        using var cancel = new CancellationTokenSource(Deadline);
        using var caller = new CancellationTokenSource();

        using (var call = setup.Client.Hang(new EchoMessage(), cancellationToken: caller.Token))
        {
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            caller.Cancel();
            var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(cancel.Token));
            Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        }

        // No deadline: only the caller's RST_STREAM, relayed by the sidecar, can end the service's call.
        await echo.Abandoned.Task.WaitAsync(Deadline);
        Assert.Equal("echo: after", (await setup.Client.UnaryAsync(new EchoMessage { Text = "after" }, cancellationToken: cancel.Token)).Text);
        AssertServedBy(setup.Proxy);
    }
}
