using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.Http2;
using static Weft.Proxy.Tests.Http2.H2Conformance;

namespace Weft.Proxy.Tests.Http2;

/// <summary>RFC 9113 6.5 SETTINGS (with the acknowledgement timeout of 6.5.3), 6.7 PING, 6.8 GOAWAY and 6.9 WINDOW_UPDATE.</summary>
public sealed class Http2ServerConformanceSettingsTests(H2ConformanceServer server)
    : H2ErrorTests<H2ConformanceServer, Http2ServerConformanceSettingsTests>(server), IH2ErrorCases
{
    private const uint MaxWindow = int.MaxValue;

    private static Task SettingsAsync(RawH2Client raw, SettingId id, uint value) => raw.SendSettingsAsync((id, value));

    internal static readonly Dictionary<string, ConnectionErrorCase> ConnectionErrors = new()
    {
        ["6.5 a SETTINGS ACK with a payload: FRAME_SIZE_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Settings, FrameFlags.Ack, 0, [0, 4, 0, 0, 0, 1]), Http2ErrorCode.FrameSizeError),
        ["6.5 a SETTINGS of 5 bytes: FRAME_SIZE_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Settings, 0, 0, [0, 4, 0, 0, 1]), Http2ErrorCode.FrameSizeError),
        ["6.5 SETTINGS on a stream: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Settings, 0, 1, [0, 4, 0, 0, 0, 1]), Http2ErrorCode.ProtocolError),
        ["6.5.2 ENABLE_PUSH of 2: PROTOCOL_ERROR"] = new(raw => SettingsAsync(raw, SettingId.EnablePush, 2), Http2ErrorCode.ProtocolError),
        ["6.5.2 INITIAL_WINDOW_SIZE of 2^31: FLOW_CONTROL_ERROR"] = new(raw =>
            SettingsAsync(raw, SettingId.InitialWindowSize, MaxWindow + 1), Http2ErrorCode.FlowControlError),
        ["6.5.2 MAX_FRAME_SIZE of 16383: PROTOCOL_ERROR"] = new(raw => SettingsAsync(raw, SettingId.MaxFrameSize, 16383), Http2ErrorCode.ProtocolError),
        ["6.5.2 MAX_FRAME_SIZE of 2^24: PROTOCOL_ERROR"] = new(raw => SettingsAsync(raw, SettingId.MaxFrameSize, 1 << 24), Http2ErrorCode.ProtocolError),
        ["6.7 PING on a stream: PROTOCOL_ERROR"] = new(raw => raw.SendFrameAsync(FrameType.Ping, 0, 1, new byte[8]), Http2ErrorCode.ProtocolError),
        ["6.7 PING of 6 bytes: FRAME_SIZE_ERROR"] = new(raw => raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[6]), Http2ErrorCode.FrameSizeError),
        ["6.8 GOAWAY on a stream: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.GoAway, 0, 1, [0, 0, 0, 0, 0, 0, 0, 0]), Http2ErrorCode.ProtocolError),
        ["6.9 WINDOW_UPDATE of 0 on the connection: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.WindowUpdate, 0, 0, U32(0)), Http2ErrorCode.ProtocolError),
        ["6.9 WINDOW_UPDATE of 3 bytes: FRAME_SIZE_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.WindowUpdate, 0, 0, [0, 0, 1]), Http2ErrorCode.FrameSizeError),
        ["6.9.1 the connection's window past 2^31-1: FLOW_CONTROL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.WindowUpdate, 0, 0, U32(MaxWindow)), Http2ErrorCode.FlowControlError),
        ["6.9.2 INITIAL_WINDOW_SIZE taking an open stream's window past 2^31-1: FLOW_CONTROL_ERROR"] = new(async raw =>
        {
            await raw.GetAsync(1, "/hang");
            await raw.SendFrameAsync(FrameType.WindowUpdate, 0, 1, U32(MaxWindow - 65535)); // the stream's window: 2^31-1
            await SettingsAsync(raw, SettingId.InitialWindowSize, 65536);
        }, Http2ErrorCode.FlowControlError),
    };

    internal static readonly Dictionary<string, StreamErrorCase> StreamErrors = new()
    {
        ["6.9 WINDOW_UPDATE of 0 on a stream: PROTOCOL_ERROR"] = new(async raw =>
        {
            await raw.GetAsync(1, "/hang");
            await raw.SendFrameAsync(FrameType.WindowUpdate, 0, 1, U32(0));
        }, 1, Http2ErrorCode.ProtocolError),
        // Our SETTINGS_INITIAL_WINDOW_SIZE is the most a request body may send before the app reads; /hang reads nothing.
        ["6.9.1 DATA beyond the stream's receive window: FLOW_CONTROL_ERROR"] = new(async raw =>
        {
            await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/hang"));
            var frame = new byte[16384];
            for (var sent = 0; sent <= Http2ServerConnection.StreamWindow; sent += frame.Length)
                await raw.SendDataAsync(1, frame, endStream: false);
        }, 1, Http2ErrorCode.FlowControlError),
        ["6.9.1 a stream's window past 2^31-1: FLOW_CONTROL_ERROR"] = new(async raw =>
        {
            await raw.GetAsync(1, "/hang");
            await raw.SendFrameAsync(FrameType.WindowUpdate, 0, 1, U32(MaxWindow));
        }, 1, Http2ErrorCode.FlowControlError),
    };

    static Dictionary<string, ConnectionErrorCase> IH2ConnectionErrorCases.ConnectionErrors => ConnectionErrors;

    static Dictionary<string, StreamErrorCase> IH2ErrorCases.StreamErrors => StreamErrors;

    [Fact]
    public async Task Settings_653_TheClientsSettings_AreAcknowledged_TheFirstAndALaterOne_UnknownIdsIgnored()
    {
        await using var raw = await Server.ConnectAsync(ackSettings: true, ((SettingId)0x99, 7));
        Assert.NotNull(await raw.ReadUntilAsync(h => h.Type == FrameType.Settings && h.Flags == FrameFlags.Ack));

        await raw.SendSettingsAsync(((SettingId)0xFF00, 1), (SettingId.HeaderTableSize, 0), (SettingId.MaxFrameSize, 1 << 20));
        var ack = await raw.ReadUntilAsync(h => h.Type == FrameType.Settings);
        Assert.Equal(new FrameHeader(0, FrameType.Settings, FrameFlags.Ack, 0), ack!.Value.Header);
        await AssertServesAsync(raw, 1);
    }

    [Fact]
    public async Task Ping_67_IsAnswered_ButAPingAck_IsNot()
    {
        await using var raw = await Server.ConnectAsync();
        await raw.SendFrameAsync(FrameType.Ping, FrameFlags.Ack, 0, [9, 9, 9, 9, 9, 9, 9, 9]);
        await raw.SendFrameAsync(FrameType.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);

        var pong = await raw.ReadUntilAsync(h => h.Type == FrameType.Ping);
        Assert.Equal(FrameFlags.Ack, pong!.Value.Header.Flags);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], pong.Value.Payload);
    }

    [Fact]
    public async Task GoAway_68_FromTheClient_LetsItsOpenStreamFinish()
    {
        await using var raw = await Server.ConnectAsync();
        await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));
        await raw.SendFrameAsync(FrameType.GoAway, 0, 0, [0, 0, 0, 1, 0, 0, 0, 0]);
        await raw.SendDataAsync(1, "after goaway"u8, endStream: true);

        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("after goaway", System.Text.Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task WindowUpdate_692_AResponseBlockedOnAZeroWindow_ResumesWhenSettingsRaiseIt()
    {
        await using var raw = await Server.ConnectAsync(ackSettings: true, (SettingId.InitialWindowSize, 0));
        await raw.GetAsync(1, "/bytes?n=1000");
        var head = await raw.ReadUntilAsync(h => h.StreamId == 1);
        Assert.Equal(FrameType.Headers, head!.Value.Header.Type);
        Assert.Equal("200", raw.Decode(head.Value.Payload)[":status"]);

        // The head and any DATA the window allowed leave together: a PING answered with no DATA before it shows none is due.
        await raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        var next = await raw.ReadUntilAsync(h => h.Type == FrameType.Ping || h.StreamId == 1);
        Assert.Equal(FrameType.Ping, next!.Value.Header.Type);

        await raw.SendSettingsAsync((SettingId.InitialWindowSize, 400));
        var first = await raw.ReadUntilAsync(h => h.StreamId == 1);
        Assert.Equal(new FrameHeader(400, FrameType.Data, 0, 1), first!.Value.Header);
        await raw.SendSettingsAsync((SettingId.InitialWindowSize, 65535));
        var (_, rest, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(Bytes(1000), first.Value.Payload.Concat(rest).ToArray());
    }

    [Fact]
    public async Task SettingsTimeout_653_AClientThatNeverAcksOurSettings_GetsGoAwaySettingsTimeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var own = await OwnServer.StartAsync(HandleAsync, time);
        await using var raw = await RawH2Client.ConnectAsync(own.Address, marked: false, ackSettings: false);
        // Once a PING is answered, the read loop runs, so the connection's timer is armed.
        await raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        Assert.NotNull(await raw.ReadUntilAsync(h => h.Type == FrameType.Ping));

        time.Advance(Http2ServerConnection.SettingsTimeout - TimeSpan.FromMilliseconds(1));
        await raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        var alive = await raw.ReadUntilAsync(h => h.Type is FrameType.Ping or FrameType.GoAway);
        Assert.Equal(FrameType.Ping, alive!.Value.Header.Type); // not yet

        time.Advance(TimeSpan.FromMilliseconds(1));
        await ExpectConnectionErrorAsync(raw, Http2ErrorCode.SettingsTimeout);
    }

    [Fact]
    public async Task SettingsTimeout_653_AClientThatAcked_IsServedPastIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var own = await OwnServer.StartAsync(HandleAsync, time);
        await using var raw = await RawH2Client.ConnectAsync(own.Address, marked: false);
        await AssertServesAsync(raw, 1); // the ACK came before this request: the server has read it

        time.Advance(Http2ServerConnection.SettingsTimeout * 2);
        await AssertServesAsync(raw, 3);
    }
}
