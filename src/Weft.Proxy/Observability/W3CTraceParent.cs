using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace Weft.Proxy.Observability;

/// <summary>
/// A W3C <c>traceparent</c> (<c>00-&lt;trace-id&gt;-&lt;parent-id&gt;-&lt;flags&gt;</c>) held as integers, parsed
/// and written without allocating: the fast path reads the caller's from the request head's bytes and writes the next
/// hop's into the bytes it sends. <see cref="TraceHigh"/> is the trace id's first 8 bytes, big-endian (the part
/// OpenTelemetry's trace-id ratio sampler reads).
/// </summary>
internal readonly record struct W3CTraceParent(ulong TraceHigh, ulong TraceLow, ulong SpanId, bool Sampled)
{
    /// <summary>Characters of a version-00 value.</summary>
    public const int Length = 55;

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    /// <summary>
    /// Parses a value as W3C Trace Context level 1 says a receiver must: lowercase hex, neither id all zeros, version
    /// <c>ff</c> invalid, a version-00 value exactly 55 characters, a later version's extra fields ignored.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> value, out W3CTraceParent parent)
    {
        parent = default;
        if (value.Length < Length || value[2] != '-' || value[35] != '-' || value[52] != '-')
            return false;
        if (!TryHex(value[..2], out var version) || version == 0xff)
            return false;
        if (version == 0 ? value.Length != Length : value.Length > Length && value[Length] != '-')
            return false;
        if (!TryHex(value.Slice(3, 16), out var high) || !TryHex(value.Slice(19, 16), out var low) || (high | low) == 0)
            return false;
        if (!TryHex(value.Slice(36, 16), out var span) || span == 0 || !TryHex(value.Slice(53, 2), out var flags))
            return false;
        parent = new W3CTraceParent(high, low, span, (flags & 1) != 0);
        return true;
    }

    /// <summary>The same, from a header value the layered path has as text.</summary>
    public static bool TryParse(ReadOnlySpan<char> value, out W3CTraceParent parent)
    {
        parent = default;
        if (value.Length is < Length or > 256)
            return false;
        Span<byte> bytes = stackalloc byte[value.Length];
        return Encoding.ASCII.GetBytes(value, bytes) == value.Length && !value.ContainsAnyExceptInRange((char)0x20, (char)0x7e)
            && TryParse(bytes, out parent);
    }

    /// <summary>A new trace, or a new span in one: ids from <see cref="Random.Shared"/>, never zero.</summary>
    public static ulong RandomId()
    {
        ulong id;
        do
            id = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        while (id == 0);
        return id;
    }

    /// <summary>The trace id as OpenTelemetry's Activity carries it (allocates: only for a recorded span).</summary>
    public ActivityTraceId TraceId
    {
        get
        {
            Span<byte> bytes = stackalloc byte[16];
            BinaryPrimitives.WriteUInt64BigEndian(bytes, TraceHigh);
            BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], TraceLow);
            return ActivityTraceId.CreateFromBytes(bytes);
        }
    }

    public ActivitySpanId ActivitySpanId
    {
        get
        {
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(bytes, SpanId);
            return ActivitySpanId.CreateFromBytes(bytes);
        }
    }

    /// <summary>Writes the version-00 value (<see cref="Length"/> bytes).</summary>
    public void WriteTo(Span<byte> to)
    {
        to = to[..Length];
        to[0] = (byte)'0';
        to[1] = (byte)'0';
        to[2] = (byte)'-';
        WriteHex(to.Slice(3, 16), TraceHigh);
        WriteHex(to.Slice(19, 16), TraceLow);
        to[35] = (byte)'-';
        WriteHex(to.Slice(36, 16), SpanId);
        to[52] = (byte)'-';
        to[53] = (byte)'0';
        to[54] = Sampled ? (byte)'1' : (byte)'0';
    }

    /// <summary>The trace id as 32 lowercase hex digits (the access log's <c>trace_id</c>).</summary>
    public string TraceIdHex() => string.Create(32, this, static (chars, p) =>
    {
        Span<byte> bytes = stackalloc byte[Length];
        p.WriteTo(bytes);
        Encoding.ASCII.GetChars(bytes.Slice(3, 32), chars);
    });

    public override string ToString() => string.Create(Length, this, static (chars, p) =>
    {
        Span<byte> bytes = stackalloc byte[Length];
        p.WriteTo(bytes);
        Encoding.ASCII.GetChars(bytes, chars);
    });

    private static void WriteHex(Span<byte> to, ulong value)
    {
        for (var i = to.Length - 1; i >= 0; i--)
        {
            to[i] = HexDigits[(int)(value & 0xf)];
            value >>= 4;
        }
    }

    /// <summary>Lowercase hex only, as the W3C format requires; up to 16 digits.</summary>
    private static bool TryHex(ReadOnlySpan<byte> digits, out ulong value)
    {
        value = 0;
        foreach (var b in digits)
        {
            int d;
            if ((uint)(b - '0') <= 9)
                d = b - '0';
            else if ((uint)(b - 'a') <= 5)
                d = b - 'a' + 10;
            else
                return false;
            value = (value << 4) | (uint)d;
        }

        return true;
    }
}

/// <summary>
/// One hop's tracing decision, taken before any Activity exists: the trace it is part of (the caller's
/// <c>traceparent</c> when <see cref="HasParent"/>, else a new trace id), whether it is recorded, and the
/// <c>traceparent</c> it forwards when no span is recorded (the same trace and flag, a new span id). The default value
/// means tracing is off (headers pass through as received).
/// </summary>
internal readonly record struct TraceHop(W3CTraceParent Trace, bool HasParent, W3CTraceParent Forward)
{
    public bool Sampled => Trace.Sampled;

    /// <summary>False when no decision was taken (no tracing configured).</summary>
    public bool Decided => Trace.TraceHigh != 0 || Trace.TraceLow != 0;
}
