using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 client against a misbehaving server, for what RFC 9113 makes a connection error: the client sends
/// GOAWAY with the right code and closes, every stream on the connection fails, and the pool opens a new connection
/// for the next request. Two requests (streams 1 and 3) are open when the server misbehaves.
/// </summary>
public sealed class Http2ClientConformanceConnectionTests : H2ClientScript
{
    private static byte[] Settings(params (SettingId Id, uint Value)[] settings)
    {
        var frame = new byte[9 + 6 * settings.Length];
        Frames.WriteSettings(frame, settings);
        return frame;
    }

    private static byte[] Frame(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload) => H2Peer.Frame(type, flags, streamId, payload);

    /// <summary>Each case: the frames the server sends, and the GOAWAY code the client must answer with.</summary>
    private static readonly Dictionary<string, (byte[] Frames, Http2ErrorCode Code)> Cases = new()
    {
        // 6.6, 8.4: we send ENABLE_PUSH 0, so a PUSH_PROMISE is a connection error.
        ["push promise"] = ([.. Frame(FrameType.PushPromise, FrameFlags.EndHeaders, 1, [0, 0, 0, 2, .. H2Peer.Block((":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "a"))])], Http2ErrorCode.ProtocolError),
        // 6.5.2
        ["settings enable push 2"] = (Settings((SettingId.EnablePush, 2)), Http2ErrorCode.ProtocolError),
        ["settings initial window over 2^31-1"] = (Settings((SettingId.InitialWindowSize, 0x8000_0000)), Http2ErrorCode.FlowControlError),
        ["settings max frame size below 2^14"] = (Settings((SettingId.MaxFrameSize, 16383)), Http2ErrorCode.ProtocolError),
        ["settings max frame size above 2^24-1"] = (Settings((SettingId.MaxFrameSize, 16_777_216)), Http2ErrorCode.ProtocolError),
        // 6.5
        ["settings ack with a payload"] = (Frame(FrameType.Settings, FrameFlags.Ack, 0, [0, 3, 0, 0, 0, 1]), Http2ErrorCode.FrameSizeError),
        ["settings of 5 bytes"] = (Frame(FrameType.Settings, 0, 0, [0, 3, 0, 0, 0]), Http2ErrorCode.FrameSizeError),
        ["settings on a stream"] = (Frame(FrameType.Settings, 0, 1, []), Http2ErrorCode.ProtocolError),
        // 4.2: the header alone (the payload would follow; the client must not wait for it).
        ["frame over our max frame size"] = (Frame(FrameType.Data, 0, 1, new byte[16385])[..9], Http2ErrorCode.FrameSizeError),
        // 5.1: streams the client never opened (even ids: push is off; odd ids above the last opened: idle).
        ["headers on even stream 2"] = (H2Peer.Headers(2, true, (":status", "200")), Http2ErrorCode.ProtocolError),
        ["headers on idle stream 5"] = (H2Peer.Headers(5, true, (":status", "200")), Http2ErrorCode.ProtocolError),
        ["data on even stream 2"] = (Frame(FrameType.Data, FrameFlags.EndStream, 2, "x"u8), Http2ErrorCode.ProtocolError),
        ["data on idle stream 5"] = (Frame(FrameType.Data, FrameFlags.EndStream, 5, "x"u8), Http2ErrorCode.ProtocolError),
        ["rst_stream on idle stream 5"] = (Frame(FrameType.RstStream, 0, 5, H2Peer.UInt32(8)), Http2ErrorCode.ProtocolError),
        ["window_update on idle stream 5"] = (Frame(FrameType.WindowUpdate, 0, 5, H2Peer.UInt32(1)), Http2ErrorCode.ProtocolError),
        // 6.1
        ["data on stream 0"] = (Frame(FrameType.Data, 0, 0, "x"u8), Http2ErrorCode.ProtocolError),
        // 6.9, 6.9.1
        ["window_update 0 on the connection"] = (Frame(FrameType.WindowUpdate, 0, 0, H2Peer.UInt32(0)), Http2ErrorCode.ProtocolError),
        ["connection send window over 2^31-1"] = (Frame(FrameType.WindowUpdate, 0, 0, H2Peer.UInt32(int.MaxValue)), Http2ErrorCode.FlowControlError),
        ["window_update of 3 bytes"] = (Frame(FrameType.WindowUpdate, 0, 1, [0, 0, 1]), Http2ErrorCode.FrameSizeError),
        // 4.3: HPACK errors (index 0; an index beyond both tables; a string longer than the block).
        ["hpack index 0"] = (Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x80]), Http2ErrorCode.CompressionError),
        ["hpack index beyond the tables"] = (Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0xBF]), Http2ErrorCode.CompressionError),
        ["hpack string past the block"] = (Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x00, 0x0A, (byte)'a']), Http2ErrorCode.CompressionError),
        // 6.4, 6.7
        ["rst_stream on stream 0"] = (Frame(FrameType.RstStream, 0, 0, H2Peer.UInt32(8)), Http2ErrorCode.ProtocolError),
        ["rst_stream of 3 bytes"] = (Frame(FrameType.RstStream, 0, 1, [0, 0, 8]), Http2ErrorCode.FrameSizeError),
        ["ping on a stream"] = (Frame(FrameType.Ping, 0, 1, new byte[8]), Http2ErrorCode.ProtocolError),
        ["ping of 7 bytes"] = (Frame(FrameType.Ping, 0, 0, new byte[7]), Http2ErrorCode.FrameSizeError),
        // 6.10
        ["continuation without a header block"] = (Frame(FrameType.Continuation, FrameFlags.EndHeaders, 1, H2Peer.Block((":status", "200"))), Http2ErrorCode.ProtocolError),
        ["header block interrupted"] = ([.. Frame(FrameType.Headers, 0, 1, H2Peer.Block((":status", "200"))), .. Frame(FrameType.Ping, 0, 0, new byte[8])], Http2ErrorCode.ProtocolError),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task ConnectionError_FailsEveryStream_SendsGoAwayWithItsCode_AndTheNextRequestOpensANewConnection(string name)
    {
        var (frames, code) = Cases[name];
        var (first, second, peer) = await TwoRequestsAsync();
        await AssertConnectionErrorAsync(first, second, peer, frames, code);
    }

    /// <summary>A window of 64 KiB both ways, so its edges are reached with little data.</summary>
    private const int Window = 64 * 1024;

    [Fact]
    public async Task DataBeyondTheConnectionsWindow_IsAFlowControlError()
    {
        var pool = NewPool(Window);
        var (first, second, peer) = await TwoRequestsAsync(pool);
        // Half the window on each stream, and a byte more on the second: the connection's window (not either stream's) is passed.
        byte[] frames = [.. H2Peer.Headers(1, false, (":status", "200")), .. H2Peer.Headers(3, false, (":status", "200")),
            .. Data(1, Window / 2), .. Data(3, Window / 2), .. Frame(FrameType.Data, 0, 3, "x"u8)];
        await AssertConnectionErrorAsync(first, second, peer, frames, Http2ErrorCode.FlowControlError, pool);
    }

    [Fact]
    public async Task DataBeyondAStreamsWindow_IsAFlowControlError_EvenWithinTheConnectionsWindow()
    {
        var pool = NewPool(Window);
        var (first, second, peer) = await TwoRequestsAsync(pool);
        // 10,000 bytes on each stream, read: the connection gets its 20,000 back (over the 16 KiB threshold), neither
        // stream its 10,000 (under it). The first stream's window is then 10,000 short of the connection's.
        await peer.WriteAsync([.. H2Peer.Headers(1, false, (":status", "200")), .. H2Peer.Headers(3, false, (":status", "200")),
            .. Data(1, 10_000), .. Data(3, 10_000)]);
        foreach (var stream in new[] { first, second })
        {
            Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
            var read = 0;
            var buffer = new byte[10_000];
            while (read < buffer.Length)
                read += await stream.ReadAsync(buffer.AsMemory(read)).AsTask().WaitAsync(Deadline);
        }

        var update = await peer.ReadUntilAsync(FrameType.WindowUpdate); // the connection's 20,000, flushed
        Assert.Equal((0, 20_000), (update.Header.StreamId, (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(update.Payload)));
        await AssertConnectionErrorAsync(first, second, peer, Data(1, Window - 10_000 + 1), Http2ErrorCode.FlowControlError, pool);
    }

    /// <summary>More request body than loopback's socket buffers hold, so the client's write of it waits for the peer to read.</summary>
    private const int BigBody = 32 * 1024 * 1024;

    /// <summary>
    /// A request whose body the peer lets the client send (windows of 2^31-1) but does not read: the client's write of it
    /// is still running when the peer then commits a connection error (DATA on stream 0).
    /// </summary>
    private async Task<(Http2ClientStream Stream, H2Peer Peer)> ConnectionErrorDuringAWriteAsync()
    {
        var (stream, peer, _) = await RequestAsync(bodyLength: BigBody);
        await peer.WriteAsync([.. Frame(FrameType.WindowUpdate, 0, 0, H2Peer.UInt32(int.MaxValue - 65_535)),
            .. Settings((SettingId.InitialWindowSize, int.MaxValue))]);
        // The SETTINGS come after the WINDOW_UPDATE: once the stream has their window, the connection has its too.
        await Weft.Tests.Shared.Poll.UntilAsync(() => stream.SendWindow == int.MaxValue, "the client applied the peer's SETTINGS");

        await stream.WriteAsync(new byte[BigBody]).AsTask().WaitAsync(Deadline);
        await peer.WriteAsync(Frame(FrameType.Data, 0, 0, "x"u8));
        // The caller learns of the failure at once, while the write still waits for the peer.
        await Assert.ThrowsAnyAsync<IOException>(() => stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        stream.Release();
        Assert.Equal(0, Pool.Connections);
        return (stream, peer);
    }

    [Fact]
    public async Task ConnectionError_WhileAWriteRuns_TheGoAwayFollowsThatWrite()
    {
        var (_, peer) = await ConnectionErrorDuringAWriteAsync();
        await using (peer)
        {
            // The body's frames the client had started writing, then GOAWAY(PROTOCOL_ERROR), then the close.
            Assert.Equal(Http2ErrorCode.ProtocolError, await peer.ReadGoAwayAsync());
            await peer.ExpectEndAsync();
        }
    }

    [Fact]
    public async Task ConnectionError_WhileAWriteRuns_APeerThatNeverReadsIsClosedAfterTheGrace()
    {
        var (_, peer) = await ConnectionErrorDuringAWriteAsync();
        await using (peer)
        {
            Time.Advance(Http2ClientConnection.GoAwayGrace);
            // Closed before the peer read anything: it gets the part of the body the sockets held, then the end, and no GOAWAY.
            await Assert.ThrowsAnyAsync<IOException>(peer.ReadGoAwayAsync);
        }
    }

    /// <summary><paramref name="length"/> bytes of DATA on <paramref name="streamId"/>, in frames of at most 16 KiB.</summary>
    private static byte[] Data(int streamId, int length)
    {
        var frames = new List<byte>();
        for (var left = length; left > 0; left -= 16384)
            frames.AddRange(Frame(FrameType.Data, 0, streamId, new byte[Math.Min(left, 16384)]));
        return [.. frames];
    }
}
