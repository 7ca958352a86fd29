using System.Net.Sockets;
using Weft.Proxy.Net;

namespace Weft.Proxy.Tests.Net;

/// <summary>The stream the own h2 client's TLS runs over when the epoll engine is on: bytes both ways, FIN, and errors as NetworkStream gives them.</summary>
public sealed class EpollStreamTests
{
    [Fact]
    public async Task OneMebibyteEachWay_ArrivesWhole_AndTheFinReadsAsZero()
    {
        var (epoll, peer) = await EpollSocketTests.PairAsync();
        await using var stream = new EpollStream(epoll);
        using var _ = peer;
        await using var peerStream = new NetworkStream(peer, ownsSocket: false);
        var data = new byte[1024 * 1024];
        new Random(7).NextBytes(data);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        // The peer echoes; the write and the read run together, so neither side's buffer can fill and stall the other.
        var echo = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = await peerStream.ReadAsync(buffer, deadline.Token)) > 0)
                await peerStream.WriteAsync(buffer.AsMemory(0, n), deadline.Token);
            peer.Shutdown(SocketShutdown.Send);
        });
        var write = Task.Run(async () =>
        {
            await stream.WriteAsync(data, deadline.Token);
            epoll.Shutdown(SocketShutdown.Send);
        });
        var received = new MemoryStream();
        await stream.CopyToAsync(received, deadline.Token);
        await Task.WhenAll(echo, write);

        Assert.Equal(data, received.ToArray());
        Assert.Equal(0, await stream.ReadAsync(new byte[1], deadline.Token));
    }

    [Fact]
    public async Task APeerReset_IsAnIOException_WithTheSocketErrorInside()
    {
        var (epoll, peer) = await EpollSocketTests.PairAsync();
        await using var stream = new EpollStream(epoll);
        peer.LingerState = new LingerOption(true, 0);
        peer.Dispose();

        var e = await Assert.ThrowsAsync<IOException>(async () => await stream.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
    }
}
