using System.Buffers;
using System.Text;

namespace Weft.Proxy.FastPath;

/// <summary>What parsing a head found.</summary>
internal enum HeadStatus
{
    /// <summary>The head has not fully arrived.</summary>
    Incomplete,

    Parsed,

    /// <summary>Something the fast path does not take (or does not understand): the layered path decides.</summary>
    Declined,
}

/// <summary>
/// A request head as offsets into its bytes, parsed without consuming or copying them. Strict on purpose: anything
/// unusual (another version, a folded line, a bare LF, a body that is not Content-Length, an upgrade) is
/// <see cref="HeadStatus.Declined"/>, and Kestrel, which knows every rule, takes the request instead.
/// </summary>
internal struct RequestHead
{
    public const int MaxLength = 16 * 1024;

    /// <summary>Bytes of the head, its final empty line included.</summary>
    public int Length;
    public int MethodLength;
    public int TargetStart;
    public int TargetLength;
    public int HostStart;
    public int HostLength;
    public long ContentLength;
    public bool IsHead;

    /// <summary>A <c>Connection</c> header names other headers (RFC 9110 7.6.1): they are removed before forwarding.</summary>
    public bool ConnectionOptions;

    /// <summary>Whole lines (CRLF included) of the caller's trace headers, replaced when this hop records a span; -1 when absent.</summary>
    public int TraceParentLine;
    public int TraceParentLineLength;
    public int TraceParentValue;
    public int TraceParentValueLength;
    public int TraceStateLine;
    public int TraceStateLineLength;
    public int TraceStateValue;
    public int TraceStateValueLength;

    public static HeadStatus Parse(ReadOnlySpan<byte> data, out RequestHead head)
    {
        head = default;
        head.TraceParentLine = head.TraceStateLine = -1;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
            return data.Length >= MaxLength || HasBareLf(data) ? HeadStatus.Declined : HeadStatus.Incomplete;
        head.Length = end + 4;

        var lineEnd = data.IndexOf("\r\n"u8);
        var line = data[..lineEnd];
        var sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
            return HeadStatus.Declined;
        foreach (var b in line[..sp1])
        {
            if (b is < (byte)'A' or > (byte)'Z')
                return HeadStatus.Declined;
        }

        var rest = line[(sp1 + 1)..];
        var sp2 = rest.IndexOf((byte)' ');
        if (sp2 <= 0 || !rest[(sp2 + 1)..].SequenceEqual("HTTP/1.1"u8) || rest[0] != (byte)'/')
            return HeadStatus.Declined;
        foreach (var b in rest[..sp2])
        {
            if (b is <= 0x20 or >= 0x7F)
                return HeadStatus.Declined;
        }

        head.MethodLength = sp1;
        head.IsHead = line[..sp1].SequenceEqual("HEAD"u8);
        head.TargetStart = sp1 + 1;
        head.TargetLength = sp2;
        head.HostStart = -1;
        head.ContentLength = -1;

        var pos = lineEnd + 2;
        while (pos < end + 2)
        {
            var length = data[pos..].IndexOf("\r\n"u8);
            line = data.Slice(pos, length);
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon]))
                return HeadStatus.Declined;
            var name = line[..colon];
            var valueStart = colon + 1;
            while (valueStart < line.Length && line[valueStart] is (byte)' ' or (byte)'\t')
                valueStart++;
            var valueEnd = line.Length;
            while (valueEnd > valueStart && line[valueEnd - 1] is (byte)' ' or (byte)'\t')
                valueEnd--;
            var value = line[valueStart..valueEnd];
            foreach (var b in value)
            {
                if (b is < 0x20 and not (byte)'\t' or 0x7F)
                    return HeadStatus.Declined;
            }

            switch (name.Length)
            {
                case 4 when Ascii.EqualsIgnoreCase(name, "host"u8):
                    if (head.HostStart >= 0 || value.IsEmpty)
                        return HeadStatus.Declined;
                    head.HostStart = pos + valueStart;
                    head.HostLength = value.Length;
                    break;
                case 14 when Ascii.EqualsIgnoreCase(name, "content-length"u8):
                    if (head.ContentLength >= 0 || value.IsEmpty || value.Length > 15)
                        return HeadStatus.Declined;
                    long n = 0;
                    foreach (var b in value)
                    {
                        if (b is < (byte)'0' or > (byte)'9')
                            return HeadStatus.Declined;
                        n = n * 10 + (b - '0');
                    }

                    head.ContentLength = n;
                    break;
                case 17 when Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8):
                case 7 when Ascii.EqualsIgnoreCase(name, "upgrade"u8):
                case 6 when Ascii.EqualsIgnoreCase(name, "expect"u8):
                    return HeadStatus.Declined;
                case 10 when Ascii.EqualsIgnoreCase(name, "connection"u8):
                    foreach (var range in value.Split((byte)','))
                    {
                        var token = value[range].Trim(" \t"u8);
                        if (token.IsEmpty || Ascii.EqualsIgnoreCase(token, "keep-alive"u8))
                            continue;
                        // close and upgrade are Kestrel's to honour; a named header the fast path reads (framing, Host,
                        // trace) would change what it forwards, so the layered path, which re-frames, takes those.
                        if (Ascii.EqualsIgnoreCase(token, "close"u8) || Ascii.EqualsIgnoreCase(token, "upgrade"u8)
                            || Ascii.EqualsIgnoreCase(token, "host"u8) || Ascii.EqualsIgnoreCase(token, "content-length"u8)
                            || Ascii.EqualsIgnoreCase(token, "transfer-encoding"u8) || Ascii.EqualsIgnoreCase(token, "traceparent"u8)
                            || Ascii.EqualsIgnoreCase(token, "tracestate"u8))
                            return HeadStatus.Declined;
                        head.ConnectionOptions = true;
                    }

                    break;
                case 11 when Ascii.EqualsIgnoreCase(name, "traceparent"u8):
                    if (head.TraceParentLine >= 0)
                        return HeadStatus.Declined;
                    (head.TraceParentLine, head.TraceParentLineLength) = (pos, length + 2);
                    (head.TraceParentValue, head.TraceParentValueLength) = (pos + valueStart, value.Length);
                    break;
                case 10 when Ascii.EqualsIgnoreCase(name, "tracestate"u8):
                    if (head.TraceStateLine >= 0)
                        return HeadStatus.Declined;
                    (head.TraceStateLine, head.TraceStateLineLength) = (pos, length + 2);
                    (head.TraceStateValue, head.TraceStateValueLength) = (pos + valueStart, value.Length);
                    break;
            }

            pos += length + 2;
        }

        if (head.HostStart < 0)
            return HeadStatus.Declined;
        if (head.ContentLength < 0)
            head.ContentLength = 0;
        return HeadStatus.Parsed;
    }

    /// <summary>
    /// Removes from <paramref name="head"/> (a whole request head, its empty line included) the <c>Connection</c>,
    /// <c>Keep-Alive</c> and <c>Proxy-Connection</c> lines and every line a <c>Connection</c> header of
    /// <paramref name="original"/> names, in place; returns the new length. Only called when
    /// <see cref="ConnectionOptions"/> is set, so a request without them is copied as it came.
    /// </summary>
    public static int RemoveHopByHop(ReadOnlySpan<byte> original, Span<byte> head)
    {
        var pos = head.IndexOf("\r\n"u8) + 2;
        var write = pos;
        int length;
        while ((length = head[pos..].IndexOf("\r\n"u8)) > 0)
        {
            var name = head.Slice(pos, length);
            name = name[..name.IndexOf((byte)':')];
            if (!ResponseHead.IsHopByHop(name, chunked: false) && !ResponseHead.NamedInConnection(original, name))
            {
                if (write != pos)
                    head.Slice(pos, length + 2).CopyTo(head[write..]);
                write += length + 2;
            }

            pos += length + 2;
        }

        "\r\n"u8.CopyTo(head[write..]);
        return write + 2;
    }

    /// <summary>Kestrel rejects a LF without CR; a head that has one will never end in CRLF CRLF, so do not wait for it.</summary>
    private static bool HasBareLf(ReadOnlySpan<byte> data)
    {
        for (var i = data.IndexOf((byte)'\n'); i >= 0; i = data[(i + 1)..].IndexOf((byte)'\n') is var next and >= 0 ? i + 1 + next : -1)
        {
            if (i == 0 || data[i - 1] != (byte)'\r')
                return true;
        }

        return false;
    }

    private static readonly bool[] TokenChars = BuildTokenChars();

    private static bool[] BuildTokenChars()
    {
        var table = new bool[128];
        for (var c = 0x21; c < 0x7F; c++)
            table[c] = "\"(),/:;<=>?@[\\]{}".IndexOf((char)c) < 0;
        return table;
    }

    internal static bool IsToken(ReadOnlySpan<byte> name)
    {
        foreach (var b in name)
        {
            if (b >= 128 || !TokenChars[b])
                return false;
        }

        return true;
    }
}

/// <summary>How an upstream's response body ends.</summary>
internal enum BodyFraming
{
    None,
    ContentLength,
    Chunked,

    /// <summary>No length, not chunked: the body runs until the upstream closes (the client connection closes too).</summary>
    Close,
}

/// <summary>
/// A response head from an upstream, as offsets into its bytes. Strict where framing is at stake (RFC 9112): a status
/// line or header line that does not parse, a name that is not a token (whitespace before the colon, obs-fold), a
/// control character in a line, two different <c>Content-Length</c>s or one that is not plain digits are
/// <see cref="HeadStatus.Declined"/>, an upstream error; both <c>Transfer-Encoding</c> and <c>Content-Length</c>, or a
/// 204 that announces a body, leave the connection unfit for another exchange (<see cref="Close"/>).
/// </summary>
internal struct ResponseHead
{
    /// <summary>What a header line may hold: HTAB, SP, visible ASCII and obs-text (RFC 9110 5.5); no other control character.</summary>
    private static readonly SearchValues<byte> LineBytes = SearchValues.Create(Bytes(b => b == '\t' || b is >= 0x20 and not 0x7F));

    /// <summary>The characters of a token (RFC 9110 5.6.2), what a field name is made of.</summary>
    private static readonly SearchValues<byte> TokenBytes = SearchValues.Create(Bytes(b => b is > 0x20 and < 0x7F && "\"(),/:;<=>?@[\\]{}".IndexOf((char)b) < 0));

    private static byte[] Bytes(Func<int, bool> allowed) => [.. Enumerable.Range(0, 256).Where(allowed).Select(b => (byte)b)];

    public int Length;
    public int Status;

    /// <summary>Where the status code starts: the client gets <c>HTTP/1.1 </c> and the rest of the status line from here.</summary>
    public int StatusStart;
    public long ContentLength;
    public bool Chunked;
    public bool OtherTransferEncoding;

    /// <summary>The upstream will close this connection after the response (<c>Connection: close</c>, or HTTP/1.0).</summary>
    public bool Close;

    /// <summary>A <c>Connection</c> header names other headers (RFC 9110 7.6.1): those are hop-by-hop and not passed on.</summary>
    public bool ConnectionOptions;
    public int WeftError;
    public int WeftErrorLength;

    /// <summary>What was wrong with a <see cref="HeadStatus.Declined"/> head, for the error the caller gets.</summary>
    public string? Problem;

    public static HeadStatus Parse(ReadOnlySpan<byte> data, out ResponseHead head)
    {
        head = default;
        head.ContentLength = -1;
        head.WeftError = -1;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
            return HeadStatus.Incomplete;
        head.Length = end + 4;
        var lineEnd = data.IndexOf("\r\n"u8);
        var line = data[..lineEnd];
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[7] is not ((byte)'0' or (byte)'1') || line[8] != (byte)' '
            || !char.IsAsciiDigit((char)line[9]) || !char.IsAsciiDigit((char)line[10]) || !char.IsAsciiDigit((char)line[11]) || line.Length > 12 && line[12] != (byte)' ')
            return Malformed(ref head, "a malformed status line");
        head.Status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        if (head.Status < 100 || line.ContainsAnyExcept(LineBytes))
            return Malformed(ref head, "a malformed status line");
        head.StatusStart = 9;
        head.Close = line[7] == (byte)'0';

        var pos = lineEnd + 2;
        while (pos < end + 2)
        {
            var length = data[pos..].IndexOf("\r\n"u8);
            line = data.Slice(pos, length);
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
                return Malformed(ref head, "a header line without a name and colon");
            var name = line[..colon];
            if (name.ContainsAnyExcept(TokenBytes))
                return Malformed(ref head, "a header name that is not a token (whitespace before the colon, or a folded line)");
            if (line.ContainsAnyExcept(LineBytes))
                return Malformed(ref head, "a control character in a header line");
            var valueStart = colon + 1;
            while (valueStart < line.Length && line[valueStart] is (byte)' ' or (byte)'\t')
                valueStart++;
            var value = line[valueStart..].TrimEnd(" \t"u8);
            switch (name.Length)
            {
                case 14 when Ascii.EqualsIgnoreCase(name, "content-length"u8):
                    if (!TryParseLength(value, out var n))
                        return Malformed(ref head, "an invalid Content-Length");
                    if (head.ContentLength >= 0 && head.ContentLength != n)
                        return Malformed(ref head, "two different Content-Length values");
                    head.ContentLength = n;
                    break;
                case 17 when Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8):
                    // Chunked must be the last coding (a whole token); any other coding means the body ends when the connection does.
                    if (value.Length >= 7 && Ascii.EqualsIgnoreCase(value[^7..], "chunked"u8) && (value.Length == 7 || value[^8] is (byte)',' or (byte)' ' or (byte)'\t'))
                        head.Chunked = true;
                    else
                        head.OtherTransferEncoding = true;
                    break;
                case 10 when Ascii.EqualsIgnoreCase(name, "connection"u8):
                    foreach (var range in value.Split((byte)','))
                    {
                        var token = value[range].Trim(" \t"u8);
                        if (Ascii.EqualsIgnoreCase(token, "close"u8))
                            head.Close = true;
                        else if (!token.IsEmpty && !Ascii.EqualsIgnoreCase(token, "keep-alive"u8))
                            head.ConnectionOptions = true;
                    }

                    break;
                case 12 when Ascii.EqualsIgnoreCase(name, "x-weft-error"u8):
                    head.WeftError = pos + valueStart;
                    head.WeftErrorLength = value.Length;
                    break;
            }

            pos += length + 2;
        }

        // Transfer-Encoding wins over Content-Length, but the pair is a known smuggling vector (RFC 9112 6.3): the
        // connection ends with this response. So it does after a 204 that announces a body it must not have.
        if (head.ContentLength >= 0 && (head.Chunked || head.OtherTransferEncoding || head.Status == 204 && head.ContentLength > 0))
            head.Close = true;
        return HeadStatus.Parsed;
    }

    private static HeadStatus Malformed(ref ResponseHead head, string problem)
    {
        head.Problem = problem;
        return HeadStatus.Declined;
    }

    /// <summary>How the body of this response to a request (HEAD or not) ends.</summary>
    public readonly BodyFraming Framing(bool headRequest)
    {
        if (headRequest || Status is 204 or 304 || Status < 200)
            return BodyFraming.None;
        if (OtherTransferEncoding)
            return BodyFraming.Close;
        if (Chunked)
            return BodyFraming.Chunked;
        return ContentLength >= 0 ? BodyFraming.ContentLength : BodyFraming.Close;
    }

    /// <summary>Hop-by-hop headers this proxy does not pass on; Content-Length is dropped beside chunked (RFC 9112 6.3).</summary>
    public static bool IsHopByHop(ReadOnlySpan<byte> name, bool chunked) => name.Length switch
    {
        10 => Ascii.EqualsIgnoreCase(name, "connection"u8) || Ascii.EqualsIgnoreCase(name, "keep-alive"u8),
        16 => Ascii.EqualsIgnoreCase(name, "proxy-connection"u8),
        7 => Ascii.EqualsIgnoreCase(name, "upgrade"u8),
        14 => chunked && Ascii.EqualsIgnoreCase(name, "content-length"u8),
        _ => false,
    };

    /// <summary>Whether a <c>Connection</c> header of <paramref name="head"/> lists <paramref name="name"/> (only asked when <see cref="ConnectionOptions"/>).</summary>
    public static bool NamedInConnection(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name)
    {
        var pos = head.IndexOf("\r\n"u8) + 2;
        while (pos < head.Length - 2)
        {
            var length = head[pos..].IndexOf("\r\n"u8);
            var line = head.Slice(pos, length);
            pos += length + 2;
            var colon = line.IndexOf((byte)':');
            if (colon != 10 || !Ascii.EqualsIgnoreCase(line[..colon], "connection"u8))
                continue;
            if (ContainsToken(line[(colon + 1)..], name))
                return true;
        }

        return false;
    }

    private static bool TryParseLength(ReadOnlySpan<byte> value, out long n)
    {
        n = 0;
        if (value.IsEmpty || value.Length > 18)
            return false;
        foreach (var b in value)
        {
            if (b is < (byte)'0' or > (byte)'9')
                return false;
            n = n * 10 + (b - '0');
        }

        return true;
    }

    private static bool ContainsToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), token))
                return true;
        }

        return false;
    }
}
