using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Hosting;
using Weft.Proxy.Http2;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Observability;
using Weft.Proxy.Transport;

namespace Weft.Proxy.FastPath;

/// <summary>
/// The sidecar attempt through Weft's own HTTP/2 client (<see cref="SidecarH2Pool"/>, the default unless <c>WEFT_FAST_H2=0</c>): the same
/// request the <see cref="HttpRequestMessage"/> path sends (hop-by-hop headers left out, Host as <c>:authority</c>,
/// this hop's <c>traceparent</c>, the body by the same buffered or streamed rules), the same declines, timeouts,
/// outcomes and response copying, without building a message or hopping through the handler's loops.
/// </summary>
internal sealed partial class FastConnection
{
    /// <summary>Response header names as HttpClient writes them (its known headers), so both paths give the client the same names.</summary>
    private static readonly FrozenDictionary<string, byte[]> CanonicalNames = new[]
    {
        "Accept-Ranges", "Age", "Allow", "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
        "Content-Location", "Content-MD5", "Content-Range", "Content-Type", "Date", "ETag", "Expires", "Last-Modified", "Link", "Location",
        "Pragma", "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer", "Vary", "Via", "Warning", "WWW-Authenticate",
    }.ToFrozenDictionary(n => n.ToLowerInvariant(), n => Encoding.ASCII.GetBytes(n), StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, byte[]>.AlternateLookup<ReadOnlySpan<char>> CanonicalLookup =
        CanonicalNames.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> HopByHopLookup = HopByHop.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>This connection's scratch for a request's header block (kept: the next request reuses it).</summary>
    private byte[] _h2Block = [];

    // Scratch for the request's kept fields (name and value offsets), a lower-cased name, a joined value.
    private int[] _h2Fields = [];
    private byte[] _h2Name = new byte[64];
    private byte[] _h2Value = [];

    /// <summary>The request body's sender on the h2 path, while it runs.</summary>
    private Task? _h2Sending;

    /// <summary>One attempt at a sidecar endpoint over the own h2 client; see <see cref="SidecarAttemptAsync"/>.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask SidecarH2AttemptAsync(SidecarH2Pool pool, EndpointState endpoint, bool mayDecline, CancellationToken token)
    {
        _owner.SidecarH2Exchange();
        var exchange = RentExchange();
        var timeout = token.CanBeCanceled ? token.UnsafeRegister(static s => CancelQuietly((CancellationTokenSource)s!), exchange) : default;
        Http2ClientStream? stream = null;
        _h2Sending = null;
        try
        {
            try
            {
                stream = await pool.OpenStreamAsync(endpoint.Endpoint, endpoint.HostPort, exchange.Token);
                var (blockLength, bodyLength) = EncodeSidecarHead(endpoint);
                stream.SendHeaders(_h2Block.AsSpan(0, blockLength), bodyLength, _head.IsHead);
                if (bodyLength > 0)
                    _h2Sending = SendBodyAsync(stream, bodyLength, exchange.Token);
                await stream.ReadHeadAsync();
            }
            catch (Exception e)
            {
                stream?.Cancel();
                await StopBodyAsync(_h2Sending);
                Failed(token, e, e is Http2NotProcessedException || ForwardLayer.IsConnectFailure(e) ? AttemptOutcome.ConnectFailure : AttemptOutcome.Reset);
                return;
            }

            timeout.Dispose();
            _headersAt = _time.GetTimestamp();
            _status = stream.Status;
            _outcome = _status >= 500 ? AttemptOutcome.ServerError : AttemptOutcome.Success;
            if (mayDecline && _route.Action.Retry.RetriesStatus(_status))
            {
                // Not read: releasing resets the stream; the h2 connection stays.
                _declined = true;
                return;
            }

            long length;
            int headSize;
            try
            {
                headSize = MeasureH2Head(stream, out length);
            }
            catch (InvalidDataException e)
            {
                Failed(token, e, AttemptOutcome.Reset);
                return;
            }

            // Failed already, with the frames that came with its head: nothing has reached the app, which gets a 502 saying why.
            if (stream.Failure is { } failure)
            {
                Failed(token, failure, AttemptOutcome.Reset);
                return;
            }

            _responseStarted = true;
            try
            {
                var noBody = NoBody;
                var chunked = !noBody && length < 0;
                var close = CloseRequested;
                if (close)
                    _closeAfter = true;
                WriteH2Head(stream, headSize, chunked, close);
                if (noBody)
                    await FlushAsync();
                else
                    await CopySidecarBodyAsync(stream, length, chunked, exchange.Token);
            }
            catch (Exception e)
            {
                ResponseFailedMidway(endpoint, e);
            }
        }
        finally
        {
            timeout.Dispose();
            if (stream is not null)
            {
                // A body still being sent stops with the exchange (the server answered without it, or the exchange failed).
                if (_h2Sending is { IsCompleted: false })
                    stream.Cancel();
                await StopBodyAsync(_h2Sending);
                stream.Release();
            }

            _h2Sending = null;
        }
    }

    /// <summary>
    /// The request head as one HPACK block in <see cref="_h2Block"/>: the pseudo-headers, then the caller's headers as
    /// <see cref="BuildSidecarRequest"/> keeps them (lower-case names, values trimmed), <c>content-length</c> when the
    /// request has a body, and this hop's <c>traceparent</c>. Returns the block's length and the body's.
    /// </summary>
    private (int BlockLength, long BodyLength) EncodeSidecarHead(EndpointState endpoint)
    {
        var head = _headBytes.Span;
        var traced = _trace.Decided;
        var traceparent = traced ? _span?.Id ?? _trace.Forward.ToString() : null;
        // Every field of the head, each at most its line (plus the pseudo-headers' names and a few bytes of HPACK prefix).
        var bound = 2 * _head.Length + 256 + endpoint.HostPort.Length + (traceparent?.Length ?? 0);
        if (_h2Block.Length < bound)
            _h2Block = new byte[Math.Max(bound, 4096)];
        var to = _h2Block.AsSpan();
        var n = 0;
        n += Encode(":method"u8, head[.._head.MethodLength], to[n..]);
        n += Encode(":scheme"u8, "http"u8, to[n..]);
        if (_head.HostLength > 0)
        {
            n += Encode(":authority"u8, head.Slice(_head.HostStart, _head.HostLength), to[n..]);
        }
        else
        {
            Span<byte> hostPort = stackalloc byte[endpoint.HostPort.Length];
            Encoding.ASCII.GetBytes(endpoint.HostPort, hostPort);
            n += Encode(":authority"u8, hostPort, to[n..]);
        }

        n += Encode(":path"u8, head.Slice(_head.TargetStart, _head.TargetLength), to[n..]);

        var dropState = traced && !_trace.HasParent;
        var hasLength = false;
        var pos = head.IndexOf("\r\n"u8) + 2;
        var end = _head.Length - 2;
        Span<char> chars = stackalloc char[256];
        var kept = 0;
        // First the fields kept (name and trimmed value, as offsets into the head), then each name once with its values joined.
        while (pos < end)
        {
            var length = head[pos..].IndexOf("\r\n"u8);
            var line = head.Slice(pos, length);
            var lineStart = pos;
            pos += length + 2;
            if (traced && (lineStart == _head.TraceParentLine || dropState && lineStart == _head.TraceStateLine))
                continue;
            var colon = line.IndexOf((byte)':');
            var name = line[..colon];
            if (name.Length == 4 && Ascii.EqualsIgnoreCase(name, "host"u8))
                continue;
            if (name.Length == 14 && Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                hasLength = true;
                continue;
            }

            if (name.Length <= chars.Length)
            {
                Encoding.ASCII.GetChars(name, chars);
                if (HopByHopLookup.Contains(chars[..name.Length]))
                    continue;
            }

            // A header the caller's Connection names is for this hop only (RFC 9110 7.6.1), as the layered path drops it.
            if (_head.ConnectionOptions && ResponseHead.NamedInConnection(head[.._head.Length], name))
                continue;

            var valueStart = colon + 1;
            while (valueStart < line.Length && line[valueStart] is (byte)' ' or (byte)'\t')
                valueStart++;
            var value = line[valueStart..].TrimEnd(" \t"u8);
            if (_h2Fields.Length < 4 * (kept + 1))
                Array.Resize(ref _h2Fields, Math.Max(64, _h2Fields.Length * 2));
            _h2Fields[4 * kept] = lineStart;
            _h2Fields[4 * kept + 1] = name.Length;
            _h2Fields[4 * kept + 2] = lineStart + valueStart;
            _h2Fields[4 * kept + 3] = value.Length;
            kept++;
        }

        for (var i = 0; i < kept; i++)
        {
            if (_h2Fields[4 * i + 1] < 0)
                continue;
            var name = head.Slice(_h2Fields[4 * i], _h2Fields[4 * i + 1]);
            var value = head.Slice(_h2Fields[4 * i + 2], _h2Fields[4 * i + 3]);
            var lowered = _h2Name.Length >= name.Length ? _h2Name.AsSpan(0, name.Length) : (_h2Name = new byte[name.Length * 2]).AsSpan(0, name.Length);
            Ascii.ToLower(name, lowered, out _);
            var joined = 0;
            for (var j = i + 1; j < kept; j++)
            {
                if (_h2Fields[4 * j + 1] != name.Length || !Ascii.EqualsIgnoreCase(head.Slice(_h2Fields[4 * j], name.Length), name))
                    continue;
                // Repeated fields travel as one, joined as HttpClient joins them (cookies with "; ").
                var separator = lowered.SequenceEqual("cookie"u8) ? "; "u8 : ", "u8;
                if (joined == 0)
                    joined = Append(ref _h2Value, 0, value);
                joined = Append(ref _h2Value, joined, separator);
                joined = Append(ref _h2Value, joined, head.Slice(_h2Fields[4 * j + 2], _h2Fields[4 * j + 3]));
                _h2Fields[4 * j + 1] = -1;
            }

            var fieldValue = joined > 0 ? _h2Value.AsSpan(0, joined) : value;
            if (to.Length - n < HPackEncoder.MaxEncodedLength(name.Length, fieldValue.Length) + 64)
            {
                Array.Resize(ref _h2Block, Math.Max(_h2Block.Length * 2, n + HPackEncoder.MaxEncodedLength(name.Length, fieldValue.Length) + 512));
                to = _h2Block.AsSpan();
            }

            n += Encode(lowered, fieldValue, to[n..]);
        }

        var bodyLength = hasLength || _head.ContentLength > 0 ? _head.ContentLength : 0;
        if (hasLength || _head.ContentLength > 0)
        {
            Span<byte> digits = stackalloc byte[20];
            _head.ContentLength.TryFormat(digits, out var written, default, System.Globalization.CultureInfo.InvariantCulture);
            n += Encode("content-length"u8, digits[..written], to[n..]);
        }

        if (traceparent is not null)
        {
            Span<byte> value = stackalloc byte[traceparent.Length];
            Encoding.ASCII.GetBytes(traceparent, value);
            n += Encode("traceparent"u8, value, to[n..]);
        }

        _bodyLeft = _buffered ? 0 : bodyLength;
        return (n, bodyLength);

        static int Append(ref byte[] buffer, int at, ReadOnlySpan<byte> bytes)
        {
            if (buffer.Length < at + bytes.Length)
                Array.Resize(ref buffer, Math.Max(buffer.Length * 2, at + bytes.Length + 256));
            bytes.CopyTo(buffer.AsSpan(at));
            return at + bytes.Length;
        }

        static int Encode(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, Span<byte> to)
        {
            var written = HPackEncoder.EncodeField(name, value, to);
            if (written < 0)
                throw new InvalidOperationException("the header block outgrew its bound");
            return written;
        }
    }

    /// <summary>As <see cref="MeasureSidecarHead"/> for a response head from the own h2 client; also gives its Content-Length (-1: none).</summary>
    private int MeasureH2Head(Http2ClientStream stream, out long length)
    {
        length = -1;
        var lengths = 0;
        for (var i = 0; i < stream.HeaderCount; i++)
        {
            if (stream.HeaderName(i).SequenceEqual("content-length"u8))
            {
                lengths++;
                if (!long.TryParse(stream.HeaderValue(i), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out length))
                    length = -1;
            }
        }

        if (lengths != 1)
            length = -1;
        var chunked = !NoBody && length < 0;
        var size = StatusLine(_status).Length + 2 + 28 + 19;
        for (var i = 0; i < stream.HeaderCount; i++)
        {
            var name = stream.HeaderName(i);
            if (SkippedH2(name, chunked))
                continue;
            var value = stream.HeaderValue(i);
            if (name.SequenceEqual("x-weft-error"u8))
            {
                if (_owner.Tracing is not null)
                    _upstreamError = Encoding.Latin1.GetString(value);
                _response.WeftError = 0;
            }

            if (value.IndexOfAnyInRange((byte)0, (byte)8) >= 0 || value.IndexOfAnyInRange((byte)0x0A, (byte)0x1F) >= 0 || value.IndexOf((byte)0x7F) >= 0)
                throw new InvalidDataException($"the upstream's header {Encoding.ASCII.GetString(name)} has a character HTTP/1.1 cannot carry");
            size += name.Length + value.Length + 4;
        }

        return size;
    }

    private void WriteH2Head(Http2ClientStream stream, int size, bool chunked, bool close)
    {
        var status = StatusLine(_status);
        var to = _output.GetSpan(size);
        status.CopyTo(to);
        var n = status.Length;
        Span<char> chars = stackalloc char[64];
        for (var i = 0; i < stream.HeaderCount; i++)
        {
            var name = stream.HeaderName(i);
            if (SkippedH2(name, chunked))
                continue;
            var canonical = name.Length <= chars.Length && Encoding.ASCII.GetChars(name, chars) == name.Length
                && CanonicalLookup.TryGetValue(chars[..name.Length], out var known) ? known : name;
            canonical.CopyTo(to[n..]);
            n += canonical.Length;
            to[n++] = (byte)':';
            to[n++] = (byte)' ';
            stream.HeaderValue(i).CopyTo(to[n..]);
            n += stream.HeaderValue(i).Length;
            to[n++] = (byte)'\r';
            to[n++] = (byte)'\n';
        }

        if (chunked)
        {
            "Transfer-Encoding: chunked\r\n"u8.CopyTo(to[n..]);
            n += 28;
        }

        if (close)
        {
            "Connection: close\r\n"u8.CopyTo(to[n..]);
            n += 19;
        }

        "\r\n"u8.CopyTo(to[n..]);
        _output.Advance(n + 2);
    }

    private static bool SkippedH2(ReadOnlySpan<byte> name, bool chunked)
    {
        if (chunked && name.SequenceEqual("content-length"u8))
            return true;
        Span<char> chars = stackalloc char[64];
        return name.Length <= chars.Length && Encoding.ASCII.GetChars(name, chars) == name.Length && HopByHopLookup.Contains(chars[..name.Length]);
    }
}
