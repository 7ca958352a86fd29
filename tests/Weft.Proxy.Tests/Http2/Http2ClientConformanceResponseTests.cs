using System.Buffers.Binary;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 client against a server sending malformed responses (RFC 9113 8.1.1, 8.2, 8.3.2) or stream-level
/// errors: only that stream fails (RST_STREAM with the code, the caller sees a failure saying what was wrong, never a
/// response, which the sidecar would turn into HTTP/1.1 for its app); the other stream on the connection gets its
/// response, and the connection stays in the pool. Also what must pass: interim 1xx heads, SETTINGS to ACK, unknown
/// settings and frame types, a content-length without a body where none is due.
/// </summary>
public sealed class Http2ClientConformanceResponseTests : H2ClientScript
{
    private static byte[] Head(int id, bool end, params (string, string)[] fields) => H2Peer.Headers(id, end, fields);

    private static byte[] Data(int id, bool end, string text) => H2Peer.Frame(FrameType.Data, end ? FrameFlags.EndStream : (byte)0, id, System.Text.Encoding.Latin1.GetBytes(text));

    /// <summary>Each case: what the server sends on stream 1, the code of the client's RST_STREAM, and what the caller's failure says.</summary>
    private static readonly Dictionary<string, (Func<int, byte[]> Frames, Http2ErrorCode Code, string Says)> Cases = new()
    {
        ["no :status"] = (id => Head(id, true, ("server", "x")), Http2ErrorCode.ProtocolError, "without :status"),
        [":status of 2 digits"] = (id => Head(id, true, (":status", "20")), Http2ErrorCode.ProtocolError, ":status 20,"),
        [":status below 100"] = (id => Head(id, true, (":status", "099")), Http2ErrorCode.ProtocolError, ":status 099,"),
        [":status not digits"] = (id => Head(id, true, (":status", "2x0")), Http2ErrorCode.ProtocolError, ":status 2x0,"),
        ["two :status"] = (id => Head(id, true, (":status", "200"), (":status", "204")), Http2ErrorCode.ProtocolError, "a second :status"),
        [":path in a response"] = (id => Head(id, true, (":status", "200"), (":path", "/")), Http2ErrorCode.ProtocolError, ":path"),
        ["pseudo-header after a regular one"] = (id => Head(id, true, ("server", "x"), (":status", "200")), Http2ErrorCode.ProtocolError, "pseudo-header after a regular"),
        ["upper-case name"] = (id => Head(id, true, (":status", "200"), ("Server", "x")), Http2ErrorCode.ProtocolError, "Server, not a lower-case token"),
        ["space in a name"] = (id => Head(id, true, (":status", "200"), ("x y", "x")), Http2ErrorCode.ProtocolError, "not a lower-case token"),
        ["connection"] = (id => Head(id, true, (":status", "200"), ("connection", "close")), Http2ErrorCode.ProtocolError, "connection-specific header connection"),
        ["transfer-encoding"] = (id => Head(id, false, (":status", "200"), ("transfer-encoding", "chunked")), Http2ErrorCode.ProtocolError, "transfer-encoding"),
        ["keep-alive"] = (id => Head(id, true, (":status", "200"), ("keep-alive", "timeout=5")), Http2ErrorCode.ProtocolError, "keep-alive"),
        ["upgrade"] = (id => Head(id, true, (":status", "200"), ("upgrade", "h2c")), Http2ErrorCode.ProtocolError, "upgrade"),
        ["proxy-connection"] = (id => Head(id, true, (":status", "200"), ("proxy-connection", "close")), Http2ErrorCode.ProtocolError, "proxy-connection"),
        ["CR in a value"] = (id => Head(id, true, (":status", "200"), ("x-a", "a\rb")), Http2ErrorCode.ProtocolError, "CR, LF or NUL in the value of x-a"),
        ["LF in a value"] = (id => Head(id, true, (":status", "200"), ("x-a", "a\nset-cookie: b")), Http2ErrorCode.ProtocolError, "CR, LF or NUL"),
        ["NUL in a value"] = (id => Head(id, true, (":status", "200"), ("x-a", "a\0b")), Http2ErrorCode.ProtocolError, "CR, LF or NUL"),
        ["content-length not a number"] = (id => Head(id, true, (":status", "200"), ("content-length", "1x")), Http2ErrorCode.ProtocolError, "content-length 1x"),
        ["two content-lengths"] = (id => Head(id, false, (":status", "200"), ("content-length", "2"), ("content-length", "3")), Http2ErrorCode.ProtocolError, "content-length 3"),
        ["more DATA than content-length"] = (id => [.. Head(id, false, (":status", "200"), ("content-length", "3")), .. Data(id, true, "hello")],
            Http2ErrorCode.ProtocolError, "more DATA than its content-length of 3"),
        ["more DATA than content-length, not ended"] = (id => [.. Head(id, false, (":status", "200"), ("content-length", "3")), .. Data(id, false, "hello")],
            Http2ErrorCode.ProtocolError, "more DATA than its content-length of 3"),
        ["less DATA than content-length"] = (id => [.. Head(id, false, (":status", "200"), ("content-length", "10")), .. Data(id, true, "hello")],
            Http2ErrorCode.ProtocolError, "ended after 5 bytes of its content-length of 10"),
        ["content-length and no DATA"] = (id => Head(id, true, (":status", "200"), ("content-length", "10")), Http2ErrorCode.ProtocolError, "ended after 0 bytes"),
        ["content-length, trailers too early"] = (id => [.. Head(id, false, (":status", "200"), ("content-length", "10")), .. Data(id, false, "hello"), .. Head(id, true, ("x-t", "1"))],
            Http2ErrorCode.ProtocolError, "ended after 5 bytes"),
        ["trailers without END_STREAM"] = (id => [.. Head(id, false, (":status", "200")), .. Data(id, false, "hello"), .. Head(id, false, ("x-t", "1"))],
            Http2ErrorCode.ProtocolError, "trailers without END_STREAM"),
        ["pseudo-header in trailers"] = (id => [.. Head(id, false, (":status", "200")), .. Data(id, false, "hello"), .. Head(id, true, (":status", "200"))],
            Http2ErrorCode.ProtocolError, "pseudo-header in the trailers"),
        ["malformed interim head"] = (id => Head(id, false, (":status", "103"), ("Link", "</a>")), Http2ErrorCode.ProtocolError, "Link, not a lower-case token"),
        ["101 switching protocols"] = (id => Head(id, false, (":status", "101")), Http2ErrorCode.ProtocolError, "status 101"),
        ["interim head with END_STREAM"] = (id => Head(id, true, (":status", "100")), Http2ErrorCode.ProtocolError, "status 100"),
        ["DATA before the head"] = (id => Data(id, true, "hello"), Http2ErrorCode.ProtocolError, "DATA before the response head"),
        // 6.9, 6.9.1: a stream's WINDOW_UPDATE of 0, and one past 2^31-1, are stream errors.
        ["window_update 0 on the stream"] = (id => H2Peer.Frame(FrameType.WindowUpdate, 0, id, H2Peer.UInt32(0)), Http2ErrorCode.ProtocolError, "WINDOW_UPDATE of 0"),
        ["stream send window over 2^31-1"] = (id => H2Peer.Frame(FrameType.WindowUpdate, 0, id, H2Peer.UInt32(int.MaxValue)), Http2ErrorCode.FlowControlError, "over 2^31-1"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task MalformedResponse_FailsOnlyItsStream_WithAResetThatSaysWhy(string name)
    {
        var (frames, code, says) = Cases[name];
        var (first, second, peer) = await TwoRequestsAsync();
        await using var connection = peer;

        await peer.WriteAsync([.. frames(1), .. Ok(3)]);

        var e = await Assert.ThrowsAsync<Http2StreamException>(() => ReadWholeAsync(first));
        Assert.Equal(code, e.Code);
        Assert.Contains(says, e.Message);
        var (reset, payload) = await peer.ReadUntilAsync(FrameType.RstStream);
        Assert.Equal(1, reset.StreamId);
        Assert.Equal(code, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload));
        Assert.Equal((200, "ok"), await ReadWholeAsync(second));
        first.Release();
        second.Release();

        Assert.Equal(1, Pool.Connections);
        var (next, _, id) = await RequestAsync(peer); // on the same connection
        await peer.WriteAsync(Ok(id));
        Assert.Equal((200, "ok"), await ReadWholeAsync(next));
        next.Release();
    }

    /// <summary>What the server sends on stream 1 that a caller must get as this status and body (and stream 3 its <c>ok</c>).</summary>
    private static readonly Dictionary<string, (Func<int, byte[]> Frames, int Status, string Body)> Accepted = new()
    {
        ["100 then 200"] = (id => [.. Head(id, false, (":status", "100")), .. Head(id, false, (":status", "200"), ("content-length", "5")), .. Data(id, true, "hello")], 200, "hello"),
        ["103 with a link, then 200"] = (id => [.. Head(id, false, (":status", "103"), ("link", "</a.css>; rel=preload")), .. Head(id, false, (":status", "200")), .. Data(id, true, "hello")], 200, "hello"),
        ["two interim heads"] = (id => [.. Head(id, false, (":status", "100")), .. Head(id, false, (":status", "103")), .. Head(id, true, (":status", "204"))], 204, ""),
        ["content-length matching, several DATA"] = (id => [.. Head(id, false, (":status", "200"), ("content-length", "11")), .. Data(id, false, "hello"), .. Data(id, false, " "), .. Data(id, true, "world")], 200, "hello world"),
        ["content-length matching, then trailers"] = (id => [.. Head(id, false, (":status", "200"), ("content-length", "5")), .. Data(id, false, "hello"), .. Head(id, true, ("x-t", "1"))], 200, "hello"),
        ["304 with content-length, no DATA"] = (id => Head(id, true, (":status", "304"), ("content-length", "10")), 304, ""),
        ["unknown frame type"] = (id => [.. H2Peer.Frame((FrameType)0xBB, 0xFF, id, [1, 2, 3]), .. H2Peer.Frame((FrameType)0xBB, 0, 0, [1]), .. Head(id, true, (":status", "200"))], 200, ""),
        ["unknown setting"] = (id => [.. Settings((SettingId)0x99, 7), .. Head(id, true, (":status", "200"))], 200, ""),
        ["empty DATA with END_STREAM"] = (id => [.. Head(id, false, (":status", "200"), ("content-length", "0")), .. Data(id, true, "")], 200, ""),
    };

    public static TheoryData<string> AcceptedNames => [.. Accepted.Keys];

    [Theory]
    [MemberData(nameof(AcceptedNames))]
    public async Task WellFormedResponse_IsPassedOn(string name)
    {
        var (frames, status, body) = Accepted[name];
        var (first, second, peer) = await TwoRequestsAsync();
        await using var connection = peer;

        await peer.WriteAsync([.. frames(1), .. Ok(3)]);

        Assert.Equal((status, body), await ReadWholeAsync(first));
        Assert.Equal((200, "ok"), await ReadWholeAsync(second));
        first.Release();
        second.Release();
        Assert.Equal(1, Pool.Connections);
    }

    [Fact]
    public async Task InterimHeadsFields_AreNotTheFinalHeads()
    {
        var (stream, peer, id) = await RequestAsync();
        await using var connection = peer;
        await peer.WriteAsync([.. Head(id, false, (":status", "103"), ("link", "</a.css>")), .. Head(id, true, (":status", "200"), ("server", "x"))]);

        Assert.Equal(200, await stream.ReadHeadAsync().AsTask().WaitAsync(Deadline));
        Assert.Equal(1, stream.HeaderCount);
        Assert.Equal("server"u8.ToArray(), stream.HeaderName(0).ToArray());
        stream.Release();
    }

    [Fact]
    public async Task HeadRequest_TakesAContentLengthWithoutDATA()
    {
        var (stream, peer, id) = await RequestAsync(head: true);
        await using var connection = peer;
        await peer.WriteAsync(Head(id, true, (":status", "200"), ("content-length", "10")));

        Assert.Equal((200, ""), await ReadWholeAsync(stream));
        stream.Release();
    }

    [Fact]
    public async Task ServersSettings_AreAcked()
    {
        var (stream, peer, id) = await RequestAsync();
        await using var connection = peer;
        await peer.WriteAsync(Settings(SettingId.MaxConcurrentStreams, 5));

        var (ack, payload) = await peer.ReadUntilAsync(FrameType.Settings);
        Assert.Equal((FrameFlags.Ack, 0, 0), (ack.Flags, ack.StreamId, payload.Length));
        Assert.Equal(5, stream.Connection.MaxConcurrentStreams);
        await peer.WriteAsync(Ok(id));
        Assert.Equal((200, "ok"), await ReadWholeAsync(stream));
        stream.Release();
    }

    private static byte[] Settings(SettingId id, uint value)
    {
        var frame = new byte[9 + 6];
        Frames.WriteSettings(frame, [(id, value)]);
        return frame;
    }
}
