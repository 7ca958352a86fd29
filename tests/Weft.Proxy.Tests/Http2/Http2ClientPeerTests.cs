using System.Buffers.Binary;
using System.Text;
using Weft.Proxy.Http2;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 client against a scripted server on a real socket, for what Kestrel does not do on demand: a GOAWAY
/// below an open stream, REFUSED_STREAM, a reset after the head, padded DATA, a PING; and what the client sends when
/// its pool retires a connection (GOAWAY(NO_ERROR), then the close), with the pool's clock driven by the test.
/// </summary>
public sealed class Http2ClientPeerTests : H2ClientScript
{
    private static byte[] ResponseHead(int streamId, bool endStream) => H2Peer.Headers(streamId, endStream, (":status", "200"));

    [Fact]
    public async Task GoAwayBelowAnOpenStream_FailsItAsNotProcessed_AndTheConnectionLeavesThePool()
    {
        var (stream, peer, id) = await RequestAsync();
        await using var connection = peer;
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)(id - 1)); // below the stream: it was never processed
        await peer.WriteAsync(H2Peer.Frame(FrameType.GoAway, 0, 0, payload));

        await Assert.ThrowsAsync<Http2NotProcessedException>(() => stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        stream.Release();
        Assert.Equal(0, Pool.Connections);
    }

    [Fact]
    public async Task RefusedStream_FailsAsNotProcessed()
    {
        var (stream, peer, id) = await RequestAsync();
        await using var connection = peer;
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)Http2ErrorCode.RefusedStream);
        await peer.WriteAsync(H2Peer.Frame(FrameType.RstStream, 0, id, payload));

        await Assert.ThrowsAsync<Http2NotProcessedException>(() => stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        stream.Release();
    }

    [Fact]
    public async Task ResetAfterTheHead_FailsTheBodyAsAReset_NotAsNotProcessed()
    {
        var (stream, peer, id) = await RequestAsync();
        await using var connection = peer;
        await peer.WriteAsync(ResponseHead(id, endStream: false));
        Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)Http2ErrorCode.InternalError);
        await peer.WriteAsync(H2Peer.Frame(FrameType.RstStream, 0, id, payload));

        var e = await Assert.ThrowsAsync<Http2StreamException>(() => stream.ReadAsync(new byte[16]).AsTask().WaitAsync(Deadline));
        Assert.Equal(Http2ErrorCode.InternalError, e.Code);
        stream.Release();
    }

    [Fact]
    public async Task PaddedData_GivesOnlyTheData_AndAPingIsAnswered()
    {
        var (stream, peer, id) = await RequestAsync();
        await using var connection = peer;
        await peer.WriteAsync(H2Peer.Frame(FrameType.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]));
        var pong = await peer.ReadUntilAsync(FrameType.Ping);
        Assert.Equal(FrameFlags.Ack, pong.Header.Flags);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, pong.Payload);

        var padded = new byte[1 + 5 + 10];
        padded[0] = 10;
        "hello"u8.CopyTo(padded.AsSpan(1));
        await peer.WriteAsync([.. ResponseHead(id, endStream: false), .. H2Peer.Frame(FrameType.Data, FrameFlags.Padded, id, padded),
            .. H2Peer.Frame(FrameType.Data, FrameFlags.EndStream, id, " world"u8)]);

        Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        var body = new MemoryStream();
        var buffer = new byte[64];
        int read;
        while ((read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Deadline)) > 0)
            body.Write(buffer, 0, read);
        Assert.Equal("hello world", Encoding.ASCII.GetString(body.ToArray()));
        stream.Release();
    }

    /// <summary>A request answered whole and released: the connection is then idle in the pool.</summary>
    private async Task<H2Peer> AnsweredRequestAsync(H2Peer? onConnection = null, SidecarH2Pool? pool = null)
    {
        var (stream, peer, id) = await RequestAsync(onConnection, pool);
        await peer.WriteAsync(ResponseHead(id, endStream: true));
        Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        stream.Release();
        return peer;
    }

    [Fact]
    public async Task PoolDisposed_SendsGoAwayNoError_ThenCloses()
    {
        await using var peer = await AnsweredRequestAsync();

        Pool.Dispose();

        await peer.ExpectGoAwayNoErrorThenEndAsync();
    }

    [Fact]
    public async Task IdleConnection_PastTheIdleTimeout_SendsGoAwayNoError_ThenCloses()
    {
        await using var peer = await AnsweredRequestAsync();

        Time.Advance(SidecarH2Pool.IdleTimeout - TimeSpan.FromSeconds(15));
        Assert.Equal(1, Pool.Connections);
        Time.Advance(TimeSpan.FromSeconds(30)); // the sweep after the idle timeout

        await peer.ExpectGoAwayNoErrorThenEndAsync();
        Assert.Equal(0, Pool.Connections);
    }

    [Fact]
    public async Task ConnectionPastItsLifetime_FinishesItsStream_ThenSendsGoAwayNoError_AndCloses()
    {
        var (stream, peer, id) = await RequestAsync();
        await using var first = peer;

        Time.Advance(Lifetime + TimeSpan.FromSeconds(1));
        await using var second = await AnsweredRequestAsync(); // a new request opens a new connection
        await first.WriteAsync(ResponseHead(id, endStream: true));
        Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline)); // the old stream still finishes
        stream.Release();

        await first.ExpectGoAwayNoErrorThenEndAsync();
        Assert.Equal(1, Pool.Connections);
    }

    private static readonly Http2KeepAlive KeepAlive = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));

    /// <summary>A pool whose connections ping a silent server (the class's own pool has keep-alive off).</summary>
    private SidecarH2Pool KeepAlivePool() => NewPool(keepAlive: KeepAlive);

    /// <summary>A request left open on a keep-alive connection, and the PING the server gets once the interval passed.</summary>
    private async Task<(Http2ClientStream Stream, H2Peer H2Peer, int StreamId, byte[] Ping)> PingedAsync(SidecarH2Pool pool)
    {
        var (stream, peer, id) = await RequestAsync(pool: pool);
        Time.Advance(KeepAlive.Interval);
        var ping = await peer.ReadUntilAsync(FrameType.Ping);
        Assert.Equal(0, ping.Header.Flags & FrameFlags.Ack);
        return (stream, peer, id, ping.Payload);
    }

    [Fact]
    public async Task SilentServer_IsPingedAfterTheInterval_AndItsConnectionFailsAfterTheTimeout()
    {
        using var pool = KeepAlivePool();
        var (stream, peer, _, _) = await PingedAsync(pool);
        await using var connection = peer;
        Assert.Equal(1, pool.Connections);

        Time.Advance(KeepAlive.Timeout);
        Assert.Equal(0, pool.Connections);
        var e = await Assert.ThrowsAsync<Http2StreamException>(() => stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        Assert.Contains("did not answer a keep-alive PING within 5 s", e.InnerException?.Message);
        await peer.ExpectEndAsync();
        stream.Release();
    }

    [Fact]
    public async Task ServerAnsweringThePing_KeepsItsConnection()
    {
        using var pool = KeepAlivePool();
        var (stream, peer, id, ping) = await PingedAsync(pool);
        await using var connection = peer;

        // The answer, then the response: once the client has read the head, it has read the answer before it.
        await peer.WriteAsync([.. H2Peer.Frame(FrameType.Ping, FrameFlags.Ack, 0, ping), .. ResponseHead(id, endStream: true)]);
        Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        stream.Release();

        Time.Advance(KeepAlive.Timeout);
        Assert.Equal(1, pool.Connections);
        await AnsweredRequestAsync(peer, pool); // on the same connection: no new one is accepted
    }

    [Fact]
    public async Task ServerSendingFrames_IsNotPinged_UntilItFallsSilent()
    {
        using var pool = KeepAlivePool();
        var (stream, peer, id) = await RequestAsync(pool: pool);
        await using var connection = peer;

        // Halfway through the interval the server answers; the interval then counts from that answer.
        Time.Advance(KeepAlive.Interval / 2);
        await peer.WriteAsync(ResponseHead(id, endStream: true));
        Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        stream.Release();
        Time.Advance(KeepAlive.Interval / 2);
        Assert.Equal(0ul, pool.KeepAlivePings);

        Time.Advance(KeepAlive.Interval / 2);
        var ping = await peer.ReadUntilAsync(FrameType.Ping);
        Assert.Equal(0, ping.Header.Flags & FrameFlags.Ack);
        Assert.Equal(1ul, pool.KeepAlivePings);
    }
}
