using System.Text;
using Weft.Proxy.Http2;
using static Weft.Proxy.Tests.Http2.H2Conformance;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// RFC 9113 3.4 (the preface), 4.1 and 4.2 (frame format and size), 4.3 and 6.10 (header blocks: HPACK, CONTINUATION),
/// with RFC 7541's dynamic table size update.
/// </summary>
public sealed class Http2ServerConformanceFramingTests(H2ConformanceServer server)
    : H2ConnectionErrorTests<H2ConformanceServer, Http2ServerConformanceFramingTests>(server), IH2ConnectionErrorCases
{
    private static readonly (string, string)[] Get = Request("GET", "/");

    internal static readonly Dictionary<string, ConnectionErrorCase> ConnectionErrors = new()
    {
        ["4.2 a DATA frame over our SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR"] = new(async raw =>
        {
            await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));
            await raw.SendDataAsync(1, new byte[16384 + 1], endStream: true);
        }, Http2ErrorCode.FrameSizeError),
        ["4.2 a HEADERS frame over our SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [.. Block(Get), .. Block(("x-big", new string('a', 16384)))]),
            Http2ErrorCode.FrameSizeError),
        ["4.3 an HPACK index of 0: COMPRESSION_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x80]), Http2ErrorCode.CompressionError),
        ["4.3 an HPACK index beyond both tables: COMPRESSION_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0xFF, 0x80, 0x01]), Http2ErrorCode.CompressionError),
        ["4.3 a string longer than the block: COMPRESSION_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x40, 0x0A, (byte)'a']), Http2ErrorCode.CompressionError),
        // RFC 7541 6.3 / 4.2: a size update (001xxxxx, 5-bit prefix) to 8192, above the 4096 SETTINGS_HEADER_TABLE_SIZE allows.
        ["4.3 a dynamic table size update over the limit: COMPRESSION_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x3F, 0xE1, 0x3F, .. Block(Get)]),
            Http2ErrorCode.CompressionError),
        // RFC 7541 5.2: Huffman padding is the EOS code's most significant bits (all ones), at most 7 of them.
        ["4.3 a Huffman string padded with zeros: COMPRESSION_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [.. Block(Get), 0x00, 0x81, 0x00, 0x01, (byte)'x']),
            Http2ErrorCode.CompressionError),
        ["4.3 a Huffman string padded with more than 7 bits: COMPRESSION_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [.. Block(Get), 0x00, 0x82, 0x1F, 0xFF, 0x01, (byte)'x']),
            Http2ErrorCode.CompressionError),
        ["4.3 a dynamic table size update after a field: COMPRESSION_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [.. Block(Get), 0x20]),
            Http2ErrorCode.CompressionError),
        ["4.3 a DATA frame between HEADERS and its CONTINUATION: PROTOCOL_ERROR"] = new(async raw =>
        {
            await raw.SendFrameAsync(FrameType.Headers, 0, 1, Block(Request("POST", "/echo")));
            await raw.SendDataAsync(1, "x"u8, endStream: true);
        }, Http2ErrorCode.ProtocolError),
        ["4.3 a CONTINUATION of another stream inside a header block: PROTOCOL_ERROR"] = new(async raw =>
        {
            await raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndStream, 1, Block(Get[..2]));
            await raw.SendFrameAsync(FrameType.Continuation, FrameFlags.EndHeaders, 3, Block(Get[2..]));
        }, Http2ErrorCode.ProtocolError),
        ["4.3 a PING inside a header block: PROTOCOL_ERROR"] = new(async raw =>
        {
            await raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndStream, 1, Block(Get[..2]));
            await raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        }, Http2ErrorCode.ProtocolError),
        ["4.3 a frame of unknown type inside a header block: PROTOCOL_ERROR"] = new(async raw =>
        {
            await raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndStream, 1, Block(Get[..2]));
            await raw.SendFrameAsync((FrameType)0xFA, 0, 1, [1, 2, 3]);
        }, Http2ErrorCode.ProtocolError),
        ["6.10 a CONTINUATION without a HEADERS before it: PROTOCOL_ERROR"] = new(raw =>
            raw.SendFrameAsync(FrameType.Continuation, FrameFlags.EndHeaders, 1, Block(Get)), Http2ErrorCode.ProtocolError),
        ["6.10 a CONTINUATION after END_HEADERS: PROTOCOL_ERROR"] = new(async raw =>
        {
            await raw.SendHeadersAsync(1, endStream: true, Request("GET", "/hang"));
            await raw.SendFrameAsync(FrameType.Continuation, FrameFlags.EndHeaders, 1, Block(("x-late", "1")));
        }, Http2ErrorCode.ProtocolError),
    };

    static Dictionary<string, ConnectionErrorCase> IH2ConnectionErrorCases.ConnectionErrors => ConnectionErrors;

    [Fact]
    public async Task Preface_34_NotThePreface_GetsGoAwayProtocolError_ThenClose()
    {
        await using var raw = await RawH2Client.OpenAsync(Server.Address);
        await raw.SendAsync("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n\0\0\0\x04\0\0\0\0\0"u8.ToArray());

        await ExpectConnectionErrorAsync(raw, Http2ErrorCode.ProtocolError);
    }

    [Fact]
    public async Task Preface_34_FirstFrameNotSettings_GetsGoAwayProtocolError_ThenClose()
    {
        await using var raw = await RawH2Client.OpenAsync(Server.Address);
        await raw.SendAsync(Frames.ClientPreface.ToArray());
        await raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);

        await ExpectConnectionErrorAsync(raw, Http2ErrorCode.ProtocolError);
    }

    [Fact]
    public async Task FrameFormat_41_UnknownFrameTypes_AreIgnored_OnStream0_AnIdleStream_AndAnOpenOne()
    {
        await using var raw = await Server.ConnectAsync();
        await raw.SendFrameAsync((FrameType)0xFA, 0, 0, [1, 2, 3]);
        await raw.SendFrameAsync((FrameType)0x20, 0xFF, 5, []);
        await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));
        await raw.SendFrameAsync((FrameType)0xFA, 0, 1, [4, 5, 6]);
        await raw.SendDataAsync(1, "body"u8, endStream: true);

        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("body", Encoding.ASCII.GetString(body));
        await AssertServesAsync(raw, 3);
    }

    [Fact]
    public async Task FrameSize_42_ADataFrameOfExactlyMaxFrameSize_IsAccepted()
    {
        await using var raw = await Server.ConnectAsync();
        var payload = Bytes(16384);
        await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));
        await raw.SendDataAsync(1, payload, endStream: true);

        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal(payload, body);
    }

    [Fact]
    public async Task FrameFormat_41_UnknownFlags_AreIgnored_OnHeadersDataAndPing()
    {
        const byte unknown = 0x02 | 0x10 | 0x40 | 0x80;
        await using var raw = await Server.ConnectAsync();
        await raw.SendFrameAsync(FrameType.Headers, unknown | FrameFlags.EndHeaders, 1, Block(Request("POST", "/echo")));
        await raw.SendFrameAsync(FrameType.Data, unknown | FrameFlags.EndStream, 1, "flags"u8);
        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("flags", Encoding.ASCII.GetString(body));

        await raw.SendFrameAsync(FrameType.Ping, 0xFE, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
        var pong = await raw.ReadUntilAsync(h => h.Type == FrameType.Ping);
        Assert.Equal(FrameFlags.Ack, pong!.Value.Header.Flags); // the answer carries ACK alone, not the unknown flags
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], pong.Value.Payload);
    }

    [Fact]
    public async Task HeaderBlock_43_SplitOverContinuations_WithATableSizeUpdateWithinTheLimit_IsOneRequest()
    {
        await using var raw = await Server.ConnectAsync();
        // A size update to 0 (allowed, RFC 7541 4.2), then the fields over HEADERS and two CONTINUATIONs.
        byte[] block = [0x20, .. Block(Request("GET", "/split", ("x-a", "1")))];
        await raw.SendFrameAsync(FrameType.Headers, FrameFlags.EndStream, 1, block.AsSpan(0, 5));
        await raw.SendFrameAsync(FrameType.Continuation, 0, 1, block.AsSpan(5, 10));
        await raw.SendFrameAsync(FrameType.Continuation, FrameFlags.EndHeaders, 1, block.AsSpan(15));

        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("ok /split", Encoding.ASCII.GetString(body));
        await AssertServesAsync(raw, 3);
    }
}
