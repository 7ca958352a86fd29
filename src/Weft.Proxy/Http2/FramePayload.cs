namespace Weft.Proxy.Http2;

/// <summary>Reading the parts of a frame's payload that our client and server connections read alike.</summary>
internal static class FramePayload
{
    /// <summary>The payload without its padding (RFC 9113, 6.1 and 6.2); <paramref name="padding"/> counts the bytes dropped, length byte included.</summary>
    public static ReadOnlySpan<byte> Unpad(FrameHeader header, ReadOnlySpan<byte> payload, out int padding)
    {
        padding = 0;
        if ((header.Flags & FrameFlags.Padded) == 0)
            return payload;
        if (payload.IsEmpty || payload[0] >= payload.Length)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "padding as long as the frame");
        padding = payload[0] + 1;
        return payload.Slice(1, payload.Length - padding);
    }

    /// <summary>A HEADERS frame's header block fragment: padding and priority fields dropped (6.2).</summary>
    /// <param name="tooShortCode">The error when the frame is too short for its priority fields.</param>
    public static ReadOnlySpan<byte> HeadersFragment(FrameHeader header, ReadOnlySpan<byte> payload, Http2ErrorCode tooShortCode)
    {
        var fragment = Unpad(header, payload, out _);
        if ((header.Flags & FrameFlags.Priority) == 0)
            return fragment;
        if (fragment.Length < 5)
            throw new Http2ProtocolException(tooShortCode, "HEADERS too short for its priority");
        return fragment[5..];
    }
}
