namespace Weft.Proxy.Http2;

using System.Buffers.Binary;

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
    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        _ = source[Size - 1];
        var length = (source[0] << 16) | (source[1] << 8) | source[2];
        var streamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(source[5..]) & 0x7FFF_FFFF);
        return new FrameHeader(length, (FrameType)source[3], source[4], streamId);
    }

    /// <summary>Writes this header into the first 9 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        _ = destination[Size - 1];
        destination[0] = (byte)(Length >> 16);
        destination[1] = (byte)(Length >> 8);
        destination[2] = (byte)Length;
        destination[3] = (byte)Type;
        destination[4] = Flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)StreamId & 0x7FFF_FFFF);
    }
}

/// <summary>Receives decoded header fields; the spans are valid only during the call.</summary>
internal interface IHeaderSink
{
    void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}
