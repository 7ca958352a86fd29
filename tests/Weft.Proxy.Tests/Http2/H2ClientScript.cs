using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 client's pool against an <see cref="H2Peer"/> on a loopback port, for the client's scripted-peer
/// tests and conformance battery: requests opened through the pool as the sidecar opens them, and what their callers see.
/// </summary>
public abstract class H2ClientScript : IDisposable
{
    private protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly UpstreamTransport _transport = new(null, TimeSpan.FromMinutes(5));
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    /// <summary>The pools' clock, driven by the tests.</summary>
    private protected FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>The pools' connection lifetime.</summary>
    private protected static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private readonly List<SidecarH2Pool> _pools = [];

    private protected H2ClientScript()
    {
        _listener.Start();
        Pool = NewPool();
    }

    /// <summary>The pool the tests use unless they make their own (keep-alive off, the default 16 MiB windows).</summary>
    internal SidecarH2Pool Pool { get; }

    public void Dispose()
    {
        foreach (var pool in _pools)
            pool.Dispose();
        _transport.Dispose();
        _listener.Stop();
    }

    /// <summary>A pool whose connections announce <paramref name="window"/> as both their stream and connection windows.</summary>
    internal SidecarH2Pool NewPool(int window = Http2ClientConnection.DefaultWindow, Http2KeepAlive keepAlive = default)
    {
        var pool = new SidecarH2Pool(_transport, "orders", TimeSpan.FromSeconds(5), int.MaxValue, Lifetime, Time, window, keepAlive);
        _pools.Add(pool);
        return pool;
    }

    /// <summary>
    /// A GET through <paramref name="pool"/> (default: <see cref="Pool"/>), announcing <paramref name="bodyLength"/>
    /// bytes of body (0: the HEADERS end the stream), its HEADERS read by the peer: on
    /// <paramref name="onConnection"/>'s connection (the pool must reuse it), or on a new one the peer accepts.
    /// </summary>
    internal async Task<(Http2ClientStream Stream, H2Peer Peer, int StreamId)> RequestAsync(H2Peer? onConnection = null, SidecarH2Pool? pool = null, bool head = false,
        long bodyLength = 0)
    {
        var accepting = onConnection is null ? H2Peer.AcceptAsync(_listener) : Task.FromResult(onConnection);
        var stream = await (pool ?? Pool).OpenStreamAsync(Mesh.Endpoint("orders-0", (IPEndPoint)_listener.LocalEndpoint, sidecar: true), default);
        var peer = await accepting;
        stream.SendHeaders(HeaderList.GetOrders(), bodyLength, head);
        var headers = await peer.ReadUntilAsync(FrameType.Headers);
        Assert.Equal(bodyLength == 0, (headers.Header.Flags & FrameFlags.EndStream) != 0);
        Assert.Equal(stream.Id, headers.Header.StreamId);
        return (stream, peer, headers.Header.StreamId);
    }

    /// <summary>Two requests on one new connection (stream ids 1 and 3).</summary>
    internal async Task<(Http2ClientStream First, Http2ClientStream Second, H2Peer Peer)> TwoRequestsAsync(SidecarH2Pool? pool = null)
    {
        var (first, peer, id) = await RequestAsync(pool: pool);
        var (second, _, secondId) = await RequestAsync(peer, pool);
        Assert.Equal((1, 3), (id, secondId));
        return (first, second, peer);
    }

    /// <summary>What the exchange's caller gets: the status and the whole body, or the failure.</summary>
    internal static async Task<(int Status, string Body)> ReadWholeAsync(Http2ClientStream stream)
    {
        var status = await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline);
        var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Deadline)) > 0)
            body.Write(buffer, 0, read);
        return (status, System.Text.Encoding.Latin1.GetString(body.ToArray()));
    }

    /// <summary>A 200 with body <c>ok</c> on <paramref name="streamId"/>.</summary>
    internal static byte[] Ok(int streamId) =>
        [.. H2Peer.Headers(streamId, false, (":status", "200")), .. H2Peer.Frame(FrameType.Data, FrameFlags.EndStream, streamId, "ok"u8)];

    /// <summary>
    /// A connection error: after the peer's <paramref name="frames"/>, both streams' callers see failures, the client
    /// sends GOAWAY(<paramref name="code"/>) and closes, the connection leaves the pool and the next request opens a new one.
    /// </summary>
    internal async Task AssertConnectionErrorAsync(Http2ClientStream first, Http2ClientStream second, H2Peer peer, byte[] frames, Http2ErrorCode code, SidecarH2Pool? pool = null)
    {
        pool ??= Pool;
        await using (peer)
        {
            await peer.WriteAsync(frames);
            // The GOAWAY first: no read of the callers may give a window back before the client took every frame.
            Assert.Equal(code, await peer.ReadGoAwayAsync());
            await peer.ExpectEndAsync();
            await Assert.ThrowsAnyAsync<IOException>(() => ReadWholeAsync(first));
            await Assert.ThrowsAnyAsync<IOException>(() => ReadWholeAsync(second));
            first.Release();
            second.Release();
            Assert.Equal(0, pool.Connections);
        }

        var (next, fresh, id) = await RequestAsync(pool: pool);
        await using (fresh)
        {
            await fresh.WriteAsync(Ok(id));
            Assert.Equal((200, "ok"), await ReadWholeAsync(next));
            next.Release();
        }
    }
}
