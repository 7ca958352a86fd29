using System.Text;
using Weft.Proxy.Http2;
using static Weft.Proxy.Tests.Http2.H2Conformance;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// RFC 9113 5.1 (stream states and identifiers), 5.3 (PRIORITY, deprecated but still to be parsed), and the frame
/// rules of 6.1 DATA, 6.2 HEADERS, 6.3 PRIORITY and 6.4 RST_STREAM. (5.1.2, streams over MAX_CONCURRENT_STREAMS
/// refused, is <see cref="Http2ServerTests.StreamsBeyondMaxConcurrentStreams_AreRefused"/>.)
/// </summary>
public sealed class Http2ServerConformanceStreamsTests(H2ConformanceServer server)
    : H2ErrorTests<H2ConformanceServer, Http2ServerConformanceStreamsTests>(server), IH2ErrorCases
{
    /// <summary>Stream 1 answered and closed both ways.</summary>
    private static async Task GetClosedAsync(RawH2Client raw)
    {
        await raw.GetAsync(1, "/");
        Assert.Equal(200, (await raw.ReadResponseAsync(1)).Status);
    }

    /// <summary>Stream 1 half-closed (remote): the request ended, the app has not answered.</summary>
    private static Task HangAsync(RawH2Client raw) => raw.GetAsync(1, "/hang");

    /// <summary>Stream 1 open: a POST whose body has not ended.</summary>
    private static Task PostAsync(RawH2Client raw) => raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));

    internal static readonly Dictionary<string, ConnectionErrorCase> ConnectionErrors = new()
    {
        ["5.1 DATA on an idle stream: PROTOCOL_ERROR"] = new(raw => raw.SendDataAsync(1, "x"u8, endStream: true), Http2ErrorCode.ProtocolError),
        ["5.1 RST_STREAM on an idle stream: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.RstStream, 0, 1, U32((uint)Http2ErrorCode.Cancel)), Http2ErrorCode.ProtocolError),
        ["5.1 WINDOW_UPDATE on an idle stream: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.WindowUpdate, 0, 1, U32(100)), Http2ErrorCode.ProtocolError),
        ["5.1.1 HEADERS on an even stream id: PROTOCOL_ERROR"] = new(raw => raw.GetAsync(2, "/"), Http2ErrorCode.ProtocolError),
        ["5.1.1 HEADERS on a stream id below one already opened: PROTOCOL_ERROR"] = new(async raw =>
        {
            await raw.GetAsync(5, "/");
            Assert.Equal(200, (await raw.ReadResponseAsync(5)).Status);
            await raw.GetAsync(3, "/");
        }, Http2ErrorCode.ProtocolError),
        // RFC 9113 5.1 "closed": MAY be a connection error (STREAM_CLOSED). Without a record of which ids were opened, the
        // server cannot tell a closed stream from a skipped id (5.1.1: PROTOCOL_ERROR), so both get PROTOCOL_ERROR.
        ["5.1 HEADERS on a stream closed both ways (MAY, code as for a reused id): PROTOCOL_ERROR"] = new(async raw =>
        {
            await GetClosedAsync(raw);
            await raw.GetAsync(1, "/");
        }, Http2ErrorCode.ProtocolError),
        ["6.1 DATA on stream 0: PROTOCOL_ERROR"] = new(raw => raw.SendDataAsync(0, "x"u8, endStream: false), Http2ErrorCode.ProtocolError),
        ["6.1 DATA whose padding is as long as the payload: PROTOCOL_ERROR"] = new(async raw =>
        {
            await PostAsync(raw);
            await raw.SendFrameAsync(FrameType.Data, FrameFlags.Padded | FrameFlags.EndStream, 1, [3, 1, 2]);
        }, Http2ErrorCode.ProtocolError),
        ["6.2 HEADERS on stream 0: PROTOCOL_ERROR"] = new(raw => raw.GetAsync(0, "/"), Http2ErrorCode.ProtocolError),
        ["6.2 HEADERS whose padding is longer than the payload: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.Padded | FrameFlags.EndHeaders | FrameFlags.EndStream, 1,
                [200, .. Block(Request("GET", "/"))]), Http2ErrorCode.ProtocolError),
        ["6.2 HEADERS with PRIORITY too short for its fields: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.Priority | FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0, 0, 0]),
            Http2ErrorCode.ProtocolError),
        ["6.3 PRIORITY on stream 0: PROTOCOL_ERROR"] = new(raw => raw.SendFrameAsync(FrameType.Priority, 0, 0, Priority(1)), Http2ErrorCode.ProtocolError),
        // A stream error (6.3) for a stream that exists; an idle one cannot be reset (RST_STREAM MUST NOT be sent in
        // "idle", 6.4), so the server takes it as a connection error (5.4.1 allows that of any stream error).
        ["6.3 PRIORITY of 4 bytes on an idle stream (a stream error taken as a connection error): FRAME_SIZE_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Priority, 0, 1, [0, 0, 0, 0]), Http2ErrorCode.FrameSizeError),
        ["6.4 RST_STREAM on stream 0: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.RstStream, 0, 0, U32((uint)Http2ErrorCode.Cancel)), Http2ErrorCode.ProtocolError),
        ["6.4 RST_STREAM of 3 bytes: FRAME_SIZE_ERROR"] = new(async raw =>
        {
            await HangAsync(raw);
            await raw.SendFrameAsync(FrameType.RstStream, 0, 1, [0, 0, 8]);
        }, Http2ErrorCode.FrameSizeError),
    };

    internal static readonly Dictionary<string, StreamErrorCase> StreamErrors = new()
    {
        ["5.1 DATA on a half-closed (remote) stream: STREAM_CLOSED"] = new(async raw =>
        {
            await HangAsync(raw);
            await raw.SendDataAsync(1, "late"u8, endStream: true);
        }, 1, Http2ErrorCode.StreamClosed),
        ["5.1 HEADERS on a half-closed (remote) stream: STREAM_CLOSED"] = new(async raw =>
        {
            await HangAsync(raw);
            await raw.SendHeadersAsync(1, endStream: true, ("x-late", "1"));
        }, 1, Http2ErrorCode.StreamClosed),
        ["5.1, 6.1 DATA on a stream closed both ways: STREAM_CLOSED"] = new(async raw =>
        {
            await GetClosedAsync(raw);
            await raw.SendDataAsync(1, "late"u8, endStream: true);
        }, 1, Http2ErrorCode.StreamClosed),
        ["5.1, 6.1 DATA on a stream the client reset: STREAM_CLOSED"] = new(async raw =>
        {
            await PostAsync(raw);
            await raw.SendFrameAsync(FrameType.RstStream, 0, 1, U32((uint)Http2ErrorCode.Cancel));
            await raw.SendDataAsync(1, "late"u8, endStream: true);
        }, 1, Http2ErrorCode.StreamClosed),
        ["5.3.1 PRIORITY making a stream depend on itself: PROTOCOL_ERROR"] = new(async raw =>
        {
            await HangAsync(raw);
            await raw.SendFrameAsync(FrameType.Priority, 0, 1, Priority(1));
        }, 1, Http2ErrorCode.ProtocolError),
        ["5.3.1 HEADERS making its stream depend on itself: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.Priority | FrameFlags.EndHeaders | FrameFlags.EndStream, 1,
                [.. Priority(1), .. Block(Request("GET", "/"))]), 1, Http2ErrorCode.ProtocolError),
        ["6.3 PRIORITY of 4 bytes on an open stream: FRAME_SIZE_ERROR"] = new(async raw =>
        {
            await HangAsync(raw);
            await raw.SendFrameAsync(FrameType.Priority, 0, 1, [0, 0, 0, 0]);
        }, 1, Http2ErrorCode.FrameSizeError),
    };

    static Dictionary<string, ConnectionErrorCase> IH2ConnectionErrorCases.ConnectionErrors => ConnectionErrors;

    static Dictionary<string, StreamErrorCase> IH2ErrorCases.StreamErrors => StreamErrors;

    [Fact]
    public async Task Closed_51_WindowUpdatePriorityAndRstStreamOnAClosedStream_AreIgnored()
    {
        await using var raw = await Server.ConnectAsync();
        await GetClosedAsync(raw);

        await raw.SendFrameAsync(FrameType.WindowUpdate, 0, 1, U32(1000));
        await raw.SendFrameAsync(FrameType.Priority, 0, 1, Priority(0));
        await raw.SendFrameAsync(FrameType.RstStream, 0, 1, U32((uint)Http2ErrorCode.Cancel));

        await AssertServesAsync(raw, 3);
    }

    [Fact]
    public async Task HalfClosed_51_DataOnIt_ResetsTheStream_AndTheAppSeesItsRequestAborted()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var own = await OwnServer.StartAsync(async c =>
        {
            c.RequestAborted.Register(() => aborted.TrySetResult());
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        await using var raw = await RawH2Client.ConnectAsync(own.Address, marked: false);
        await HangAsync(raw);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(15));

        await raw.SendDataAsync(1, "late"u8, endStream: true);

        var reset = await raw.ReadUntilAsync(h => h.Type is FrameType.RstStream or FrameType.GoAway);
        Assert.Equal(new FrameHeader(4, FrameType.RstStream, 0, 1), reset!.Value.Header);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(15)); // the handler is not left running for a stream that is gone
    }

    [Fact]
    public async Task Closed_51_FramesTheClientSentBeforeSeeingOurReset_AreIgnored()
    {
        await using var raw = await Server.ConnectAsync();
        // A malformed head with a body to come: the server resets the stream (8.1.1) while DATA and trailers are on their way.
        await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo", ("X-Upper", "1")));
        await raw.SendDataAsync(1, "in flight"u8, endStream: false);
        await raw.SendHeadersAsync(1, endStream: true, ("x-trailer", "1"));
        await raw.GetAsync(3, "/after");

        var frames = new List<FrameHeader>();
        while (await raw.ReadFrameAsync() is { } frame)
        {
            frames.Add(frame.Header);
            if (frame.Header.StreamId == 3 && (frame.Header.Flags & FrameFlags.EndStream) != 0)
                break;
        }

        Assert.Equal([new FrameHeader(4, FrameType.RstStream, 0, 1)], frames.Where(f => f.StreamId == 1));
        Assert.DoesNotContain(frames, f => f.Type == FrameType.GoAway);
        Assert.Contains(frames, f => f.StreamId == 3 && f.Type == FrameType.Data && (f.Flags & FrameFlags.EndStream) != 0);
    }

    [Fact]
    public async Task Priority_53_IsAcceptedAndIgnored_OnIdleOpenAndClosedStreams_AndInHeaders()
    {
        await using var raw = await Server.ConnectAsync();
        await raw.SendFrameAsync(FrameType.Priority, 0, 3, Priority(0)); // idle: does not open stream 3
        await raw.SendFrameAsync(FrameType.Priority, 0, 9, Priority(7, 255));
        await raw.SendFrameAsync(FrameType.Headers, FrameFlags.Priority | FrameFlags.EndHeaders | FrameFlags.EndStream, 1,
            [.. Priority(3), .. Block(Request("GET", "/first"))]);
        Assert.Equal("ok /first", Encoding.ASCII.GetString((await raw.ReadResponseAsync(1)).Body));

        await raw.SendFrameAsync(FrameType.Priority, 0, 1, Priority(0));
        // Padding and priority together, on the stream PRIORITY named while idle.
        await raw.SendFrameAsync(FrameType.Headers, FrameFlags.Padded | FrameFlags.Priority | FrameFlags.EndHeaders | FrameFlags.EndStream, 3,
            [2, .. Priority(1), .. Block(Request("GET", "/second")), 0, 0]);
        Assert.Equal("ok /second", Encoding.ASCII.GetString((await raw.ReadResponseAsync(3)).Body));
        await AssertServesAsync(raw, 5);
    }

    [Fact]
    public async Task Data_61_PaddedData_ReachesTheAppWithoutItsPadding()
    {
        await using var raw = await Server.ConnectAsync();
        await PostAsync(raw);
        await raw.SendFrameAsync(FrameType.Data, FrameFlags.Padded, 1, [4, .. "abc"u8, 0, 0, 0, 0]);
        await raw.SendFrameAsync(FrameType.Data, FrameFlags.Padded | FrameFlags.EndStream, 1, [0, .. "def"u8]);

        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("abcdef", Encoding.ASCII.GetString(body));
    }
}
