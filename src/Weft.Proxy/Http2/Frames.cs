using System.Buffers.Binary;

namespace Weft.Proxy.Http2;

/// <summary>Whole small frames written into a caller's buffer; each returns the bytes written (header included).</summary>
internal static class Frames
{
    /// <summary>The client connection preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 3.4).</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private const int SettingSize = 6;

    public static int WriteSettings(Span<byte> destination, ReadOnlySpan<(SettingId Id, uint Value)> settings)
    {
        var length = settings.Length * SettingSize;
        new FrameHeader(length, FrameType.Settings, 0, 0).Write(destination);
        var payload = destination.Slice(FrameHeader.Size, length);
        foreach (var (id, value) in settings)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)id);
            BinaryPrimitives.WriteUInt32BigEndian(payload[2..], value);
            payload = payload[SettingSize..];
        }
        return FrameHeader.Size + length;
    }

    public static int WriteSettingsAck(Span<byte> destination)
    {
        new FrameHeader(0, FrameType.Settings, FrameFlags.Ack, 0).Write(destination);
        return FrameHeader.Size;
    }

    public static int WriteWindowUpdate(Span<byte> destination, int streamId, int increment)
    {
        new FrameHeader(4, FrameType.WindowUpdate, 0, streamId).Write(destination);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameHeader.Size..], (uint)increment & 0x7FFF_FFFF);
        return FrameHeader.Size + 4;
    }

    public static int WritePing(Span<byte> destination, bool ack, ulong opaque)
    {
        new FrameHeader(8, FrameType.Ping, ack ? FrameFlags.Ack : (byte)0, 0).Write(destination);
        BinaryPrimitives.WriteUInt64BigEndian(destination[FrameHeader.Size..], opaque);
        return FrameHeader.Size + 8;
    }

    public static int WriteRstStream(Span<byte> destination, int streamId, Http2ErrorCode code)
    {
        new FrameHeader(4, FrameType.RstStream, 0, streamId).Write(destination);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameHeader.Size..], (uint)code);
        return FrameHeader.Size + 4;
    }

    /// <summary>A GOAWAY without debug data.</summary>
    public static int WriteGoAway(Span<byte> destination, int lastStreamId, Http2ErrorCode code)
    {
        new FrameHeader(8, FrameType.GoAway, 0, 0).Write(destination);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameHeader.Size..], (uint)lastStreamId & 0x7FFF_FFFF);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(FrameHeader.Size + 4)..], (uint)code);
        return FrameHeader.Size + 8;
    }

    /// <summary>
    /// Parses a SETTINGS payload (a multiple of 6 bytes, else FrameSizeError), calling <paramref name="onSetting"/> per entry.
    /// Identifiers this enum does not name are passed on too: RFC 9113 6.5.2 says to ignore them, which is the caller's call.
    /// </summary>
    public static void ReadSettings(ReadOnlySpan<byte> payload, Action<SettingId, uint> onSetting)
    {
        if (payload.Length % SettingSize != 0)
            throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"SETTINGS payload of {payload.Length} bytes is not a multiple of 6.");
        for (; !payload.IsEmpty; payload = payload[SettingSize..])
            onSetting((SettingId)BinaryPrimitives.ReadUInt16BigEndian(payload), BinaryPrimitives.ReadUInt32BigEndian(payload[2..]));
    }
}
