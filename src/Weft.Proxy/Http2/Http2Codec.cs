namespace Weft.Proxy.Http2;

// CONTRACT between the h2codec and h2client helpers (2026-11-27). h2codec implements every member below with these
// exact signatures (it may add members and split the file); h2client codes against them. Bodies throw until then.

/// <summary>HTTP/2 frame types (RFC 9113 6).</summary>
internal enum FrameType : byte
{
    Data = 0x0, Headers = 0x1, Priority = 0x2, RstStream = 0x3, Settings = 0x4, PushPromise = 0x5, Ping = 0x6, GoAway = 0x7,
    WindowUpdate = 0x8, Continuation = 0x9,
}

/// <summary>Frame flags (RFC 9113 6); <see cref="Ack"/> and <see cref="EndStream"/> share a bit on different frame types.</summary>
internal static class FrameFlags
{
    public const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;
}

/// <summary>Error codes (RFC 9113 7).</summary>
internal enum Http2ErrorCode : uint
{
    NoError = 0x0, ProtocolError = 0x1, InternalError = 0x2, FlowControlError = 0x3, SettingsTimeout = 0x4, StreamClosed = 0x5,
    FrameSizeError = 0x6, RefusedStream = 0x7, Cancel = 0x8, CompressionError = 0x9, ConnectError = 0xa, EnhanceYourCalm = 0xb,
    InadequateSecurity = 0xc, Http11Required = 0xd,
}

/// <summary>SETTINGS identifiers (RFC 9113 6.5.2).</summary>
internal enum SettingId : ushort
{
    HeaderTableSize = 0x1, EnablePush = 0x2, MaxConcurrentStreams = 0x3, InitialWindowSize = 0x4, MaxFrameSize = 0x5, MaxHeaderListSize = 0x6,
}

/// <summary>A connection or stream error found while reading: the code to send and what was wrong.</summary>
internal sealed class Http2ProtocolException(Http2ErrorCode code, string message) : Exception(message)
{
    public Http2ErrorCode Code { get; } = code;
}

/// <summary>The 9-byte frame header (RFC 9113 4.1). The reserved bit of the stream id is ignored when read, 0 when written.</summary>
internal readonly record struct FrameHeader(int Length, FrameType Type, byte Flags, int StreamId)
{
    public const int Size = 9;

    /// <summary>Reads a header from the first 9 bytes of <paramref name="source"/>.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source) => throw new NotImplementedException();

    /// <summary>Writes this header into the first 9 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination) => throw new NotImplementedException();
}

/// <summary>Whole small frames written into a caller's buffer; each returns the bytes written (header included).</summary>
internal static class Frames
{
    /// <summary>The client connection preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 3.4).</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static int WriteSettings(Span<byte> destination, ReadOnlySpan<(SettingId Id, uint Value)> settings) => throw new NotImplementedException();

    public static int WriteSettingsAck(Span<byte> destination) => throw new NotImplementedException();

    public static int WriteWindowUpdate(Span<byte> destination, int streamId, int increment) => throw new NotImplementedException();

    public static int WritePing(Span<byte> destination, bool ack, ulong opaque) => throw new NotImplementedException();

    public static int WriteRstStream(Span<byte> destination, int streamId, Http2ErrorCode code) => throw new NotImplementedException();

    public static int WriteGoAway(Span<byte> destination, int lastStreamId, Http2ErrorCode code) => throw new NotImplementedException();

    /// <summary>Parses a SETTINGS payload (a multiple of 6 bytes, else FrameSizeError), calling <paramref name="onSetting"/> per entry.</summary>
    public static void ReadSettings(ReadOnlySpan<byte> payload, Action<SettingId, uint> onSetting) => throw new NotImplementedException();
}

/// <summary>
/// HPACK encoder (RFC 7541) for request and response heads. It never inserts into the dynamic table, so it needs no
/// table-size agreement with the peer: static-table matches are indexed (whole field) or name-indexed, anything else is
/// a literal without indexing; no Huffman (the heads between sidecars are short). Names must be lower-case.
/// </summary>
internal static class HPackEncoder
{
    /// <summary>Encodes one field; returns the bytes written, or -1 when <paramref name="destination"/> is too small.</summary>
    public static int EncodeField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, Span<byte> destination) => throw new NotImplementedException();

    /// <summary>An upper bound of <see cref="EncodeField"/>'s output for these lengths.</summary>
    public static int MaxEncodedLength(int nameLength, int valueLength) => throw new NotImplementedException();
}

/// <summary>Receives decoded header fields; the spans are valid only during the call.</summary>
internal interface IHeaderSink
{
    void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}

/// <summary>
/// HPACK decoder (RFC 7541): static and dynamic table (with size updates up to <paramref name="maxTableSize"/>), Huffman
/// strings, integer overflow and header-list size limits. One per connection direction: its dynamic table is that
/// connection's. Malformed input throws <see cref="Http2ProtocolException"/> with <see cref="Http2ErrorCode.CompressionError"/>.
/// </summary>
internal sealed class HPackDecoder(int maxTableSize = 4096, int maxHeaderListSize = 64 * 1024)
{
    public int MaxTableSize { get; } = maxTableSize;

    public int MaxHeaderListSize { get; } = maxHeaderListSize;

    /// <summary>Decodes one complete header block (a HEADERS payload plus its CONTINUATIONs, padding and priority removed).</summary>
    public void Decode(ReadOnlySpan<byte> block, IHeaderSink sink) => throw new NotImplementedException();
}
