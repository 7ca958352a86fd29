using System.Buffers.Binary;
using System.Diagnostics;

namespace Weft.Proxy.Observability;

/// <summary>The fast path's trace headers: an HTTP/1.1 head rewritten with this hop's <c>traceparent</c>, without allocating.</summary>
internal static class TraceHeaders
{
    private static ReadOnlySpan<byte> Name => "traceparent: "u8;

    /// <summary>Bytes the rewritten head may grow by: one <c>traceparent</c> line.</summary>
    public static int MaxLineLength => Name.Length + W3CTraceParent.Length + 2;

    /// <summary>A recorded span's <c>traceparent</c> (flag 01).</summary>
    public static W3CTraceParent Of(Activity span)
    {
        Span<byte> bytes = stackalloc byte[16];
        span.TraceId.CopyTo(bytes);
        var high = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        var low = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        span.SpanId.CopyTo(bytes[..8]);
        return new W3CTraceParent(high, low, BinaryPrimitives.ReadUInt64BigEndian(bytes), span.Recorded);
    }

    /// <summary>
    /// Copies <paramref name="head"/> (its final empty line included) into <paramref name="to"/> without the lines at
    /// <paramref name="skip1"/> and <paramref name="skip2"/> (-1: none), then adds <c>traceparent: </c><paramref name="value"/>
    /// before the empty line. Returns the bytes written; <paramref name="to"/> needs head.Length + <see cref="MaxLineLength"/>.
    /// </summary>
    public static int CopyHead(ReadOnlySpan<byte> head, Span<byte> to, int skip1, int skip1Length, int skip2, int skip2Length, W3CTraceParent value)
    {
        if (skip2 >= 0 && (skip1 < 0 || skip2 < skip1))
        {
            (skip1, skip2) = (skip2, skip1);
            (skip1Length, skip2Length) = (skip2Length, skip1Length);
        }

        var body = head[..^2];
        var n = 0;
        var pos = 0;
        if (skip1 >= 0)
        {
            body[pos..skip1].CopyTo(to);
            n = skip1 - pos;
            pos = skip1 + skip1Length;
        }

        if (skip2 >= 0)
        {
            body[pos..skip2].CopyTo(to[n..]);
            n += skip2 - pos;
            pos = skip2 + skip2Length;
        }

        body[pos..].CopyTo(to[n..]);
        n += body.Length - pos;
        Name.CopyTo(to[n..]);
        n += Name.Length;
        value.WriteTo(to[n..]);
        n += W3CTraceParent.Length;
        "\r\n\r\n"u8.CopyTo(to[n..]);
        return n + 4;
    }
}
