using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.WebUtilities;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Observability;

namespace Weft.Proxy.FastPath;

/// <summary>
/// The fast path's attempts at another sidecar. The request leaves as the layered path would send it: an
/// <see cref="HttpRequestMessage"/> (HTTP/2 exact) built from the parsed head, with YARP's hop-by-hop headers left out,
/// <c>Host</c> as the caller wrote it, this hop's <c>traceparent</c>, and a Content-Length body read from the client's
/// pipe, sent with the cluster's <see cref="Routing.ClusterBinding.SidecarInvoker"/> (so mTLS, the peer's identity check,
/// connection lifetime and renewal are the transport's, unchanged). The response is written back as HTTP/1.1: its
/// Content-Length when it has one, chunked otherwise; trailers are dropped, as the layered path drops them for an
/// HTTP/1.1 client (Kestrel's HTTP/1.1 responses have no trailers). This is the attempt with <c>WEFT_FAST_H2=0</c>; by
/// default it goes through Weft's own HTTP/2 client instead, by the same rules (<c>FastConnection.SidecarH2.cs</c>).
/// </summary>
internal sealed partial class FastConnection
{
    /// <summary>How long a request body still being sent may take to stop once its exchange is over.</summary>
    private static readonly TimeSpan BodyStopTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Unflushed response bytes beyond this are flushed even when the next read is ready (backpressure).</summary>
    private const int MaxUnflushed = 64 * 1024;

    /// <summary>YARP's <c>RequestUtilities</c> list: headers of one connection, neither forwarded nor copied back.</summary>
    private static readonly FrozenSet<string> HopByHop = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "Connection", "Transfer-Encoding", "Keep-Alive", "Upgrade", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authentication-Info",
        "Proxy-Authorization", "Proxy-Features", "Proxy-Instruction", "Security-Scheme", "ALPN", "Close", "TE", "Alt-Svc");

    /// <summary>What an HTTP/1.1 header value may hold (Kestrel refuses control characters in a response header).</summary>
    private static readonly System.Buffers.SearchValues<char> ValueChars = System.Buffers.SearchValues.Create(
        "\t" + string.Concat(Enumerable.Range(0x20, 0x5F).Select(c => (char)c)) + string.Concat(Enumerable.Range(0x80, 0x80).Select(c => (char)c)));

    /// <summary>Header names seen on requests, so a steady stream of requests does not allocate a name per header.</summary>
    private static readonly ConcurrentDictionary<string, string> Names = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> NameLookup = Names.GetAlternateLookup<ReadOnlySpan<char>>();
    private const int MaxCachedNames = 512;

    private static readonly byte[]?[] StatusLines = new byte[600][];

    private bool _toSidecar;
    private CancellationTokenSource? _exchange;
    private string? _hostString;

    /// <summary>Bytes of a streamed (not buffered) request body not yet read from the client.</summary>
    private long _bodyLeft;

    /// <summary>One attempt at a sidecar endpoint: the request over h2, the response head, then declined or copied to the client.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask SidecarAttemptAsync(EndpointState endpoint, bool mayDecline, CancellationToken token)
    {
        if (_binding.SidecarH2 is { } h2)
        {
            await SidecarH2AttemptAsync(h2, endpoint, mayDecline, token);
            return;
        }

        _owner.SidecarExchange();
        var exchange = RentExchange();
        // The per-try (or request) timeout ends the exchange until the response head arrives, as in the layered path.
        var timeout = token.CanBeCanceled ? token.UnsafeRegister(static s => CancelQuietly((CancellationTokenSource)s!), exchange) : default;
        SidecarBody? body = null;
        HttpResponseMessage? response = null;
        try
        {
            try
            {
                var request = BuildSidecarRequest(endpoint, out body);
                response = await _binding.SidecarInvoker.SendAsync(request, exchange.Token);
            }
            catch (Exception e)
            {
                await StopBodyAsync(body?.Sending);
                Failed(token, e, ForwardLayer.IsConnectFailure(e) ? AttemptOutcome.ConnectFailure : AttemptOutcome.Reset);
                return;
            }

            timeout.Dispose();
            _headersAt = _time.GetTimestamp();
            _status = (int)response.StatusCode;
            _outcome = _status >= 500 ? AttemptOutcome.ServerError : AttemptOutcome.Success;
            if (mayDecline && _route.Action.Retry.RetriesStatus(_status))
            {
                // Not read: disposing resets the stream; the h2 connection stays.
                _declined = true;
                return;
            }

            int headSize;
            try
            {
                headSize = MeasureSidecarHead(response);
            }
            catch (InvalidDataException e)
            {
                Failed(token, e, AttemptOutcome.Reset);
                return;
            }

            _responseStarted = true;
            try
            {
                await CopySidecarResponseAsync(response, headSize, exchange.Token);
            }
            catch (Exception e)
            {
                ResponseFailedMidway(endpoint, e);
            }
        }
        finally
        {
            timeout.Dispose();
            response?.Dispose();
            await StopBodyAsync(body?.Sending);
        }
    }

    /// <summary>The response has begun: the client can only learn of the failure by the connection closing.</summary>
    private void ResponseFailedMidway(EndpointState endpoint, Exception e)
    {
        _closeAfter = true;
        _exception = e;
        _outcome = _clientGone || e is ConnectionAbortedException ? AttemptOutcome.Cancelled : AttemptOutcome.Reset;
        if (_outcome == AttemptOutcome.Reset)
            _owner.Log.FastAttemptFailed(_binding.Name, endpoint.HostPort, _outcome, e);
        _connection.Abort(new ConnectionAbortedException("the upstream response failed midway"));
    }

    private CancellationTokenSource RentExchange()
    {
        var exchange = _exchange;
        if (exchange is null || !exchange.TryReset())
        {
            exchange?.Dispose();
            exchange = new CancellationTokenSource();
            _exchange = exchange;
        }

        if (_clientGone)
            exchange.Cancel();
        return exchange;
    }

    /// <summary>The client went away: the exchange in flight, if any, ends (its h2 stream is reset).</summary>
    private void CancelExchange()
    {
        if (_exchange is { } exchange)
            CancelQuietly(exchange);
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Waits until the request body's sender has stopped (the exchange is over, so it finishes or fails at once), so
    /// that nothing reads the client's pipe or the buffered body after the request is done; a streamed body not sent
    /// whole leaves the rest of it in the pipe, so the connection closes after the response.
    /// </summary>
    private async ValueTask StopBodyAsync(Task? sending)
    {
        if (sending is { IsCompleted: false })
        {
            if (!_buffered)
                _input.CancelPendingRead();
            try
            {
                await sending.WaitAsync(BodyStopTimeout, _time);
            }
            catch (Exception e) when (e is not TimeoutException)
            {
                // Its failure is the exchange's, already classified.
            }
            catch (TimeoutException)
            {
                _closeAfter = true;
                _connection.Abort(new ConnectionAbortedException("the request body did not stop"));
            }
        }

        if (!_buffered && _bodyLeft > 0)
            _closeAfter = true;
    }

    private HttpRequestMessage BuildSidecarRequest(EndpointState endpoint, out SidecarBody? body)
    {
        body = null;
        var head = _headBytes.Span;
        var request = new HttpRequestMessage(HttpMethodOf(head[.._head.MethodLength]),
            new Uri(string.Concat(_binding.PrefixFor(endpoint.Endpoint), Encoding.ASCII.GetString(head.Slice(_head.TargetStart, _head.TargetLength)))))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var traced = _trace.Decided;
        var dropState = traced && !_trace.HasParent;
        var pos = head.IndexOf("\r\n"u8) + 2;
        var end = _head.Length - 2;
        while (pos < end)
        {
            var length = head[pos..].IndexOf("\r\n"u8);
            var line = head.Slice(pos, length);
            var lineStart = pos;
            pos += length + 2;
            if (traced && (lineStart == _head.TraceParentLine || dropState && lineStart == _head.TraceStateLine))
                continue;
            var colon = line.IndexOf((byte)':');
            var nameBytes = line[..colon];
            if (nameBytes.Length == 4 && Ascii.EqualsIgnoreCase(nameBytes, "host"u8))
            {
                var host = head.Slice(_head.HostStart, _head.HostLength);
                if (_hostString is null || !Ascii.Equals(host, _hostString))
                    _hostString = Encoding.ASCII.GetString(host);
                // The upstream sees the Host the caller used, as ProxyCall sets it (h2: :authority).
                request.Headers.TryAddWithoutValidation("Host", _hostString);
                continue;
            }

            if (nameBytes.Length == 14 && Ascii.EqualsIgnoreCase(nameBytes, "content-length"u8))
            {
                body ??= new SidecarBody(this, _head.ContentLength);
                body.Headers.ContentLength = _head.ContentLength;
                continue;
            }

            var name = NameOf(nameBytes);
            if (HopByHop.Contains(name) || _head.ConnectionOptions && ResponseHead.NamedInConnection(head[.._head.Length], nameBytes))
                continue;
            var valueStart = colon + 1;
            while (valueStart < line.Length && line[valueStart] is (byte)' ' or (byte)'\t')
                valueStart++;
            var value = Encoding.ASCII.GetString(line[valueStart..].TrimEnd(" \t"u8));
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                // A content header: it goes with the body (an empty one when the request has none, as YARP does).
                body ??= new SidecarBody(this, _head.ContentLength);
                body.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (traced)
            request.Headers.TryAddWithoutValidation(ProxyTracing.TraceParent, _span?.Id ?? _trace.Forward.ToString());
        if (body is not null)
        {
            _bodyLeft = _buffered ? 0 : body.Length;
            request.Content = body;
        }
        else
        {
            _bodyLeft = 0;
        }

        return request;
    }

    private static string NameOf(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = stackalloc char[bytes.Length];
        Encoding.ASCII.GetChars(bytes, chars);
        if (NameLookup.TryGetValue(chars, out var name))
            return name;
        name = new string(chars);
        return Names.Count < MaxCachedNames ? Names.GetOrAdd(name, name) : name;
    }

    private static HttpMethod HttpMethodOf(ReadOnlySpan<byte> method)
    {
        if (method.SequenceEqual("GET"u8)) return HttpMethod.Get;
        if (method.SequenceEqual("POST"u8)) return HttpMethod.Post;
        if (method.SequenceEqual("PUT"u8)) return HttpMethod.Put;
        if (method.SequenceEqual("DELETE"u8)) return HttpMethod.Delete;
        if (method.SequenceEqual("HEAD"u8)) return HttpMethod.Head;
        if (method.SequenceEqual("PATCH"u8)) return HttpMethod.Patch;
        if (method.SequenceEqual("OPTIONS"u8)) return HttpMethod.Options;
        return new HttpMethod(Encoding.ASCII.GetString(method));
    }

    /// <summary>Sends the request body: from the buffered request (every attempt), or once from the client's pipe as it comes.</summary>
    private async Task SendBodyAsync(Stream stream, long length, CancellationToken token)
    {
        if (_buffered)
        {
            foreach (var segment in _request.Slice(_head.Length, length))
                await stream.WriteAsync(segment, token);
            return;
        }

        // From here on the request is consumed as it is sent: no attempt after this one can replay it.
        _advanced = true;
        var buffer = _request.Slice(_head.Length);
        while (true)
        {
            var part = buffer.Slice(0, Math.Min(buffer.Length, _bodyLeft));
            foreach (var segment in part)
                await stream.WriteAsync(segment, token);
            _bodyLeft -= part.Length;
            _input.AdvanceTo(part.End);
            if (_bodyLeft == 0)
                return;
            var result = await _input.ReadAsync(token);
            buffer = result.Buffer;
            if (result.IsCanceled)
            {
                _input.AdvanceTo(buffer.Start);
                throw new OperationCanceledException("the exchange ended before the request body was sent");
            }

            if (buffer.IsEmpty && result.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                _clientGone = true;
                throw new ConnectionAbortedException("the client closed the connection before sending the whole body");
            }
        }
    }

    /// <summary>Writes the response head and body to the client as HTTP/1.1.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask CopySidecarResponseAsync(HttpResponseMessage response, int headSize, CancellationToken token)
    {
        var noBody = NoBody;
        var length = ContentLengthOf(response);
        var chunked = !noBody && length < 0;
        var close = CloseRequested;
        if (close)
            _closeAfter = true;
        WriteSidecarHead(response, headSize, chunked, close);
        var stream = await response.Content.ReadAsStreamAsync(token);
        if (noBody)
        {
            await FlushAsync();
            return;
        }

        await CopySidecarBodyAsync(stream, length, chunked, token);
    }

    /// <summary>Copies the response body to the client: as it is, or chunked; checks it against its Content-Length.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask CopySidecarBodyAsync(Stream stream, long length, bool chunked, CancellationToken token)
    {
        // The body goes out as it is read; a read the h2 stream can answer at once goes in the same flush as what came before.
        var unflushed = 0;
        var remaining = length;
        while (true)
        {
            var room = chunked ? Math.Min(_recv.Length, 0xFFFF) : (int)Math.Min(_recv.Length, Math.Max(remaining, 1));
            var read = stream.ReadAsync(_recv.AsMemory(0, room), token);
            if (!read.IsCompleted || unflushed > MaxUnflushed)
            {
                try
                {
                    await FlushAsync();
                }
                catch
                {
                    // The client is gone: end the exchange so the pending read finishes, and let it.
                    CancelExchange();
                    try
                    {
                        await read;
                    }
                    catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
                    {
                    }

                    throw;
                }

                unflushed = 0;
            }

            var n = await read;
            if (n == 0)
                break;
            if (!chunked)
            {
                if (n > remaining)
                    throw new InvalidDataException("the upstream sent more body than its Content-Length");
                remaining -= n;
                _output.Write(_recv.AsSpan(0, n));
            }
            else
            {
                var to = _output.GetSpan(n + 8);
                // Four hex digits (leading zeros are valid chunk-size syntax), so the size is written without measuring it.
                to[0] = Hex(n >> 12);
                to[1] = Hex(n >> 8);
                to[2] = Hex(n >> 4);
                to[3] = Hex(n);
                to[4] = (byte)'\r';
                to[5] = (byte)'\n';
                _recv.AsSpan(0, n).CopyTo(to[6..]);
                to[6 + n] = (byte)'\r';
                to[7 + n] = (byte)'\n';
                _output.Advance(n + 8);
            }

            unflushed += n;
        }

        if (!chunked && remaining > 0)
            throw new IOException("the upstream's response ended before its Content-Length");
        if (chunked)
            _output.Write("0\r\n\r\n"u8);
        await FlushAsync();

        static byte Hex(int value) => (byte)"0123456789abcdef"[value & 0xF];
    }

    private static long ContentLengthOf(HttpResponseMessage response)
    {
        if (response.Content.Headers.NonValidated.TryGetValues("Content-Length", out var values) && values.Count == 1
            && long.TryParse(values.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length))
            return length;
        return -1;
    }

    private bool NoBody => _head.IsHead || _status is 204 or 304 || _status < 200;

    /// <summary>The bytes of the response head at most; throws (nothing is written yet) on a value HTTP/1.1 cannot carry.</summary>
    private int MeasureSidecarHead(HttpResponseMessage response)
    {
        var chunked = !NoBody && ContentLengthOf(response) < 0;
        return StatusLine(_status).Length + 2 + 28 + 19 + Measure(response.Headers, chunked) + Measure(response.Content.Headers, chunked);
    }

    /// <summary>
    /// The status line (Kestrel's reason phrases), every header but the hop-by-hop ones (a line per value, as Kestrel
    /// writes them), the framing, and <c>Connection: close</c> when this connection ends after the response.
    /// </summary>
    private void WriteSidecarHead(HttpResponseMessage response, int size, bool chunked, bool close)
    {
        var status = StatusLine(_status);
        var to = _output.GetSpan(size);
        status.CopyTo(to);
        var n = status.Length;
        n += WriteHeaders(response.Headers, to[n..], chunked);
        n += WriteHeaders(response.Content.Headers, to[n..], chunked);
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

    /// <summary>The bytes the headers take; notes an <c>x-weft-error</c>; throws on a value HTTP/1.1 cannot carry.</summary>
    private int Measure(System.Net.Http.Headers.HttpHeaders headers, bool chunked)
    {
        var size = 0;
        foreach (var (name, values) in headers.NonValidated)
        {
            if (Skipped(name, chunked))
                continue;
            if (_owner.Tracing is not null && name.Equals(ProxyErrors.Header, StringComparison.OrdinalIgnoreCase))
                _upstreamError = values.ToString();
            if (name.Equals(ProxyErrors.Header, StringComparison.OrdinalIgnoreCase))
                _response.WeftError = 0;
            foreach (var value in values)
            {
                if (value.AsSpan().ContainsAnyExcept(ValueChars))
                    throw new InvalidDataException($"the upstream's header {name} has a character HTTP/1.1 cannot carry");
                size += name.Length + value.Length + 4;
            }
        }

        return size;
    }

    private static int WriteHeaders(System.Net.Http.Headers.HttpHeaders headers, Span<byte> to, bool chunked)
    {
        var n = 0;
        foreach (var (name, values) in headers.NonValidated)
        {
            if (Skipped(name, chunked))
                continue;
            foreach (var value in values)
            {
                n += Encoding.ASCII.GetBytes(name, to[n..]);
                to[n++] = (byte)':';
                to[n++] = (byte)' ';
                n += Encoding.Latin1.GetBytes(value, to[n..]);
                to[n++] = (byte)'\r';
                to[n++] = (byte)'\n';
            }
        }

        return n;
    }

    private static bool Skipped(string name, bool chunked) =>
        HopByHop.Contains(name) || chunked && name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase);

    private static byte[] StatusLine(int status)
    {
        if ((uint)status < (uint)StatusLines.Length && StatusLines[status] is { } cached)
            return cached;
        var line = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {ReasonPhrases.GetReasonPhrase(status)}\r\n");
        if ((uint)status < (uint)StatusLines.Length)
            StatusLines[status] = line;
        return line;
    }

    /// <summary>The request body of one attempt: what <see cref="SendBodyAsync"/> sends, with its length known up front.</summary>
    private sealed class SidecarBody(FastConnection owner, long length) : HttpContent
    {
        private volatile Task? _sending;

        public long Length => length;

        /// <summary>The handler's send of this body, once it started one.</summary>
        public Task? Sending => _sending;

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _sending = length == 0 ? Task.CompletedTask : owner.SendBodyAsync(stream, length, cancellationToken);

        protected override bool TryComputeLength(out long computed)
        {
            computed = length;
            return true;
        }
    }
}
