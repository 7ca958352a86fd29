using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Observability;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.FastPath;

/// <summary>
/// One request from the inbound listener to the local app over a pooled raw HTTP/1.1 connection (see
/// <see cref="InboundAppClient"/>); pooled itself, with the cancellation source that bounds the exchange.
/// <list type="bullet">
/// <item>Request: the head is written from the <see cref="HttpContext"/>; a body with a length up to 64 KiB is read
/// whole and sent with the head in one write (so a kept-alive connection the app had closed is retried once on a new
/// one, as <c>SocketsHttpHandler</c> does); a bigger one streams, and one without a length (an h2 stream without
/// <c>content-length</c>) goes chunked, as YARP would send it, while the response is read.</item>
/// <item>Response: interim 1xx heads are dropped (as YARP does); the final head's status, headers (minus hop-by-hop
/// ones and those its <c>Connection</c> names) and body go into <see cref="HttpContext.Response"/>. A body that came
/// with the head is written without a flush: Kestrel sends it with the end of the response (one h2 HEADERS + DATA).</item>
/// <item>Aborts: the caller going away, the attempt's timeout and <see cref="InboundAppClient.ActivityTimeout"/>
/// close the app connection, which ends whatever is pending on it.</item>
/// </list>
/// </summary>
internal sealed class AppExchange(InboundAppClient owner)
{
    private const int MaxResponseHead = 64 * 1024;

    private CancellationTokenSource _cts = new(Timeout.InfiniteTimeSpan, owner.Time);
    private byte[] _send = [];
    private byte[] _recv = [];
    private int _sendLength;
    private int _recvCount;
    private ResponseHead _response;
    private ProxyCall _call = null!;
    private volatile UpstreamConnection? _active;
    private volatile bool _clientGone;
    private volatile bool _timedOut;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RunAsync(ProxyCall call)
    {
        _call = call;
        _clientGone = false;
        _timedOut = false;
        _send = ArrayPool<byte>.Shared.Rent(4096);
        _recv = ArrayPool<byte>.Shared.Rent(8192);
        var token = _cts.Token;
        CancellationTokenRegistration aborted = default, attempt = default, idle = default;
        try
        {
            _cts.CancelAfter(InboundAppClient.ActivityTimeout);
            idle = token.UnsafeRegister(static s => ((AppExchange)s!)._active?.Dispose(), this);
            aborted = call.Http.RequestAborted.UnsafeRegister(static s => ((AppExchange)s!).Cancel(clientGone: true), this);
            if (call.AttemptToken.CanBeCanceled)
                attempt = call.AttemptToken.UnsafeRegister(static s => ((AppExchange)s!).Cancel(clientGone: false), this);
            await ExchangeAsync(call, token);
        }
        finally
        {
            // The callbacks may run on other threads; once these return, none is running or will run.
            aborted.Dispose();
            attempt.Dispose();
            idle.Dispose();
            _active?.Dispose();
            _active = null;
            ArrayPool<byte>.Shared.Return(_send);
            ArrayPool<byte>.Shared.Return(_recv);
            _send = _recv = [];
            if (!_cts.TryReset())
            {
                _cts.Dispose();
                _cts = new CancellationTokenSource(Timeout.InfiniteTimeSpan, owner.Time);
            }

            _call = null!;
            owner.Return(this);
        }
    }

    private void Cancel(bool clientGone)
    {
        if (clientGone)
            _clientGone = true;
        else
            _timedOut = true;
        _active?.Dispose();
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ExchangeAsync(ProxyCall call, CancellationToken token)
    {
        var http = call.Http;
        var request = http.Request;
        var binding = call.Target!.Binding;
        var pool = owner.Pools.For(call.Endpoint!.Endpoint);

        // -1: no length (chunked to the app).
        var bodyLength = request.ContentLength
            ?? (http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false ? 0 : -1);
        var buffered = bodyLength is >= 0 and <= RetryLayer.MaxReplayBody;
        WriteHead(call, bodyLength);
        if (buffered && bodyLength > 0)
        {
            bool complete;
            try
            {
                complete = await ReadBodyAsync(request.BodyReader, (int)bodyLength);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                RequestBodyFailed(call, e);
                return;
            }

            if (!complete)
            {
                RequestBodyFailed(call, new IOException("the caller's request body ended before its Content-Length"));
                return;
            }
        }

        UpstreamConnection connection;
        Task<bool>? body = null;
        for (var fresh = false; ; fresh = true)
        {
            var rented = fresh ? null : pool.TryRent();
            // A body that streams cannot be sent twice: make sure a kept-alive connection is still open (readable = closed).
            if (rented is not null && !buffered && rented.Socket.Poll(0, SelectMode.SelectRead))
            {
                rented.Dispose();
                rented = null;
            }

            var reused = rented is not null;
            if (rented is null)
            {
                try
                {
                    rented = await pool.ConnectAsync(binding.ConnectTimeout, token);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Failed(call, e, AttemptOutcome.ConnectFailure, ForwarderError.Request);
                    return;
                }
            }

            connection = rented;
            _active = connection;
            if (token.IsCancellationRequested)
                connection.Dispose();
            try
            {
                await SendAllAsync(connection.Socket, _send.AsMemory(0, _sendLength));
                if (!buffered)
                    body = SendBodyAsync(connection.Socket, request.BodyReader, bodyLength);
                if (await ReceiveHeadAsync(connection))
                    break;
                connection.Dispose();
                // A kept-alive connection the app had closed: nothing was processed, send it once more on a new one.
                if (reused && buffered && !token.IsCancellationRequested)
                    continue;
                await SettleAsync(body, request);
                Failed(call, new IOException("the app closed the connection without responding"), AttemptOutcome.Reset, ForwarderError.Request);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                connection.Dispose();
                // (Disposed: a pooled connection the abort of an earlier exchange closed as it was being returned.)
                if (reused && buffered && _recvCount == 0 && !token.IsCancellationRequested && e is SocketException or IOException or ObjectDisposedException)
                    continue;
                await SettleAsync(body, request);
                Failed(call, e, AttemptOutcome.Reset, ForwarderError.Request);
                return;
            }
        }

        var status = _response.Status;
        call.Outcome = status >= 500 ? AttemptOutcome.ServerError : AttemptOutcome.Success;
        if (call.ResponseArrived(status))
        {
            // Declined for a retry: nothing reaches the caller; the body is not read, so the connection goes.
            connection.Dispose();
            _active = null;
            await SettleAsync(body, request);
            return;
        }

        var framing = _response.Framing(HttpMethods.IsHead(request.Method));
        CopyHead(http, framing);
        bool reusable;
        try
        {
            reusable = await CopyBodyAsync(http, connection.Socket, framing);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The response has begun: the caller can only learn of the failure by the stream (or connection) being reset.
            connection.Dispose();
            _active = null;
            await SettleAsync(body, request);
            call.Exception = e;
            call.ForwarderError = _clientGone ? ForwarderError.ResponseBodyClient : ForwarderError.ResponseBodyDestination;
            call.Outcome = _clientGone || e is ConnectionAbortedException ? AttemptOutcome.Cancelled : _timedOut || token.IsCancellationRequested ? AttemptOutcome.Timeout : AttemptOutcome.Reset;
            if (call.Outcome != AttemptOutcome.Cancelled)
                owner.Log.FastAttemptFailed(binding.Name, call.Endpoint!.Endpoint.HostPort, call.Outcome, e);
            http.Abort();
            return;
        }

        if (body is not null)
        {
            // The app answered before it read the whole request body: this connection cannot carry another exchange.
            if (!body.IsCompleted)
            {
                reusable = false;
                connection.Dispose();
            }

            reusable &= await SettleAsync(body, request);
        }

        _active = null;
        if (reusable && !token.IsCancellationRequested && !_clientGone)
            pool.Return(connection);
        else
            connection.Dispose();
    }

    private void Failed(ProxyCall call, Exception e, AttemptOutcome outcome, ForwarderError error)
    {
        _active = null;
        call.Exception = e;
        if (_clientGone)
        {
            call.Outcome = AttemptOutcome.Cancelled;
            call.ForwarderError = ForwarderError.RequestCanceled;
            return;
        }

        if (_timedOut || _cts.IsCancellationRequested)
        {
            call.Outcome = AttemptOutcome.Timeout;
            call.ForwarderError = ForwarderError.RequestTimedOut;
        }
        else
        {
            call.Outcome = outcome;
            call.ForwarderError = error;
        }

        owner.Log.FastAttemptFailed(call.Target!.Binding.Name, call.Endpoint!.Endpoint.HostPort, call.Outcome, e);
    }

    private void RequestBodyFailed(ProxyCall call, Exception e)
    {
        call.Exception = e;
        call.Outcome = AttemptOutcome.Cancelled;
        call.ForwarderError = ForwarderError.RequestBodyClient;
        // As YARP: the caller broke its own request; whatever it still reads of this exchange, it gets a reset.
        call.Http.Abort();
    }

    /// <summary>Waits for a streamed request body's sender to stop; true when it sent the whole body.</summary>
    private static async ValueTask<bool> SettleAsync(Task<bool>? body, HttpRequest request)
    {
        if (body is null)
            return true;
        if (!body.IsCompleted)
            request.BodyReader.CancelPendingRead();
        return await body;
    }

    // ---- request ----

    private void Ensure(int extra)
    {
        if (_sendLength + extra <= _send.Length)
            return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_send.Length * 2, _sendLength + extra));
        _send.AsSpan(0, _sendLength).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_send);
        _send = bigger;
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_send.AsSpan(_sendLength));
        _sendLength += bytes.Length;
    }

    private void Write(string text)
    {
        Ensure(text.Length);
        _sendLength += Encoding.Latin1.GetBytes(text, _send.AsSpan(_sendLength));
    }

    private void WriteHeader(string name, string? value)
    {
        if (value is null || value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            return;
        Write(name);
        Write(": "u8);
        Write(value);
        Write("\r\n"u8);
    }

    /// <summary>
    /// The request head as YARP would send it: the method, the target as the caller sent it, the Host the caller used,
    /// every header but the hop-by-hop ones (YARP's list, and those a <c>Connection</c> header names), this hop's
    /// <c>traceparent</c> when tracing is on, and the body's framing.
    /// </summary>
    private void WriteHead(ProxyCall call, long bodyLength)
    {
        _sendLength = 0;
        var http = call.Http;
        var request = http.Request;
        var headers = request.Headers;
        Write(request.Method);
        Write(" "u8);
        Write(http.Features.Get<IHttpRequestFeature>()!.RawTarget);
        Write(" HTTP/1.1\r\nHost: "u8);
        Write(request.Host.HasValue ? request.Host.Value : call.Endpoint!.Endpoint.HostPort);
        Write("\r\n"u8);

        var connection = headers.Connection;
        var trace = call.Trace;
        foreach (var (name, values) in headers)
        {
            if (name.Length == 0 || name[0] == ':' || InboundAppClient.SkippedRequestHeaders.Contains(name))
                continue;
            if (trace.Decided && (name.Equals(ProxyTracing.TraceParent, StringComparison.OrdinalIgnoreCase)
                || !trace.HasParent && name.Equals(ProxyTracing.TraceState, StringComparison.OrdinalIgnoreCase)))
                continue;
            if (connection.Count > 0 && Names(connection, name))
                continue;
            if (values.Count == 1)
                WriteHeader(name, values[0]);
            else if (name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
                WriteHeader(name, string.Join("; ", values.ToArray()));
            else
            {
                foreach (var value in values)
                    WriteHeader(name, value);
            }
        }

        if (trace.Decided)
        {
            Write("traceparent: "u8);
            Ensure(W3CTraceParent.Length);
            (call.Span is { } span ? TraceHeaders.Of(span) : trace.Forward).WriteTo(_send.AsSpan(_sendLength));
            _sendLength += W3CTraceParent.Length;
            Write("\r\n"u8);
        }

        if (request.ContentLength is { } length)
        {
            Write("Content-Length: "u8);
            Ensure(20);
            length.TryFormat(_send.AsSpan(_sendLength), out var n, default, System.Globalization.CultureInfo.InvariantCulture);
            _sendLength += n;
            Write("\r\n"u8);
        }
        else if (bodyLength < 0)
        {
            Write("Transfer-Encoding: chunked\r\n"u8);
        }
        else if (MustHaveBody(request.Method))
        {
            // What SocketsHttpHandler sends for a POST or PUT without content.
            Write("Content-Length: 0\r\n"u8);
        }

        Write("\r\n"u8);
    }

    private static bool MustHaveBody(string method) =>
        !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method) && !HttpMethods.IsDelete(method)
        && !HttpMethods.IsConnect(method) && !HttpMethods.IsTrace(method);

    /// <summary>Whether a request's <c>Connection</c> value names <paramref name="header"/> (RFC 9110 7.6.1: hop-by-hop).</summary>
    private static bool Names(StringValues connection, string header)
    {
        foreach (var value in connection)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                if (value.AsSpan()[range].Trim(" \t").Equals(header, StringComparison.OrdinalIgnoreCase))
                    return true;
            }
        }

        return false;
    }

    /// <summary>Reads a body of known, small length whole, after the head in the send buffer; false when it ended short.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadBodyAsync(PipeReader reader, int length)
    {
        Ensure(length);
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            if (buffer.Length >= length)
            {
                var body = buffer.Slice(0, length);
                body.CopyTo(_send.AsSpan(_sendLength));
                _sendLength += length;
                reader.AdvanceTo(body.End);
                return true;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                reader.AdvanceTo(buffer.End);
                return false;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Streams the rest of the request body (chunked when <paramref name="length"/> is -1) while the response is read.</summary>
    private async Task<bool> SendBodyAsync(Socket socket, PipeReader reader, long length)
    {
        try
        {
            long sent = 0;
            // The head has gone: the send buffer frames the chunks now.
            var chunk = _send;
            while (true)
            {
                var result = await reader.ReadAsync();
                if (result.IsCanceled)
                    return false;
                var buffer = result.Buffer;
                if (length >= 0 && buffer.Length > length - sent)
                    buffer = buffer.Slice(0, length - sent);
                foreach (var segment in buffer)
                {
                    if (length >= 0)
                    {
                        await SendAllAsync(socket, segment);
                        continue;
                    }

                    for (var data = segment; !data.IsEmpty;)
                    {
                        var part = data[..Math.Min(data.Length, chunk.Length - 32)];
                        var n = FormatChunkSize(chunk, part.Length);
                        part.Span.CopyTo(chunk.AsSpan(n));
                        n += part.Length;
                        "\r\n"u8.CopyTo(chunk.AsSpan(n));
                        await SendAllAsync(socket, chunk.AsMemory(0, n + 2));
                        data = data[part.Length..];
                    }
                }

                sent += buffer.Length;
                reader.AdvanceTo(buffer.End);
                if (length >= 0 && sent == length)
                    return true;
                if (result.IsCompleted)
                {
                    if (length >= 0)
                        return false;
                    await SendAllAsync(socket, "0\r\n\r\n"u8.ToArray());
                    return true;
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The app stopped reading (it may have answered already) or the caller's body broke: the response says which.
            return false;
        }
    }

    private static int FormatChunkSize(byte[] to, int size)
    {
        size.TryFormat(to, out var n, "x", System.Globalization.CultureInfo.InvariantCulture);
        "\r\n"u8.CopyTo(to.AsSpan(n));
        return n + 2;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var n = await socket.SendAsync(data, SocketFlags.None);
            data = data[n..];
        }
    }

    // ---- response ----

    /// <summary>Reads the final response head into the receive buffer, dropping interim ones; false when the app closed without a byte.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceiveHeadAsync(UpstreamConnection connection)
    {
        _recvCount = 0;
        var any = false;
        while (true)
        {
            if (_recvCount == _recv.Length)
            {
                if (_recv.Length >= MaxResponseHead)
                    throw new InvalidDataException($"response head larger than {MaxResponseHead} bytes");
                var bigger = ArrayPool<byte>.Shared.Rent(_recv.Length * 2);
                _recv.AsSpan(0, _recvCount).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_recv);
                _recv = bigger;
            }

            var n = await connection.Socket.ReceiveAsync(_recv.AsMemory(_recvCount), SocketFlags.None);
            if (n == 0)
            {
                if (!any)
                    return false;
                throw new IOException("the app closed the connection in the middle of the response head");
            }

            any = true;
            _recvCount += n;
            while (true)
            {
                var parsed = ResponseHead.Parse(_recv.AsSpan(0, _recvCount), out _response);
                if (parsed == HeadStatus.Incomplete)
                    break;
                if (parsed == HeadStatus.Declined || _response.Status == 101)
                    throw new InvalidDataException("the app sent an invalid response head");
                if (_response.Status >= 200)
                    return true;
                // An interim response (100 Continue, 103 Early Hints): dropped, as YARP does; the final one follows.
                _recv.AsSpan(_response.Length, _recvCount - _response.Length).CopyTo(_recv);
                _recvCount -= _response.Length;
                if (_recvCount == 0)
                    break;
            }
        }
    }

    /// <summary>Status, reason phrase when not the standard one, and headers, into the caller's response.</summary>
    private void CopyHead(HttpContext http, BodyFraming framing)
    {
        var response = http.Response;
        var head = _recv.AsSpan(0, _response.Length);
        var lineEnd = head.IndexOf("\r\n"u8);
        response.StatusCode = _response.Status;
        var reason = lineEnd > 13 ? head[13..lineEnd] : default;
        if (!Latin1Equals(ReasonPhrases.GetReasonPhrase(_response.Status), reason))
            http.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = Encoding.Latin1.GetString(reason);

        var headers = response.Headers;
        var strings = owner.Strings;
        var pos = lineEnd + 2;
        while (pos < head.Length - 2)
        {
            var length = head[pos..].IndexOf("\r\n"u8);
            var line = head.Slice(pos, length);
            pos += length + 2;
            var colon = line.IndexOf((byte)':');
            var name = line[..colon];
            if (InboundAppClient.SkipsResponseHeader(name) || _response.ConnectionOptions && ResponseHead.NamedInConnection(head, name))
                continue;
            var key = HeaderStrings.Name(name);
            var value = strings.Value(line[(colon + 1)..].Trim(" \t"u8));
            headers[key] = headers.TryGetValue(key, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
        }

        // Content-Length stays when it frames the body (or is only declared, as on a HEAD response); never beside chunked.
        if (!_response.Chunked && !_response.OtherTransferEncoding && _response.ContentLength >= 0
            && (framing == BodyFraming.ContentLength || framing == BodyFraming.None))
            response.ContentLength = _response.ContentLength;
    }

    private static bool Latin1Equals(string text, ReadOnlySpan<byte> bytes)
    {
        if (text.Length != bytes.Length)
            return false;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (text[i] != bytes[i])
                return false;
        }

        return true;
    }

    /// <summary>Copies the body in the app's framing into the response; true when the app connection can carry another exchange.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> CopyBodyAsync(HttpContext http, Socket socket, BodyFraming framing)
    {
        var reusable = !_response.Close;
        var leftover = _recv.AsMemory(_response.Length, _recvCount - _response.Length);
        if (framing == BodyFraming.None)
            return reusable && leftover.IsEmpty;

        var writer = http.Response.BodyWriter;
        switch (framing)
        {
            case BodyFraming.ContentLength:
            {
                var take = (int)Math.Min(leftover.Length, _response.ContentLength);
                reusable &= leftover.Length == take;
                if (take > 0)
                    writer.Write(leftover.Span[..take]);
                var remaining = _response.ContentLength - take;
                if (remaining == 0)
                    return reusable;
                await FlushAsync(writer);
                while (remaining > 0)
                {
                    var memory = writer.GetMemory();
                    var n = await socket.ReceiveAsync(memory[..(int)Math.Min(memory.Length, remaining)], SocketFlags.None);
                    if (n == 0)
                        throw new IOException("the app closed the connection before the end of the body");
                    writer.Advance(n);
                    remaining -= n;
                    Touch();
                    await FlushAsync(writer);
                }

                return reusable;
            }

            case BodyFraming.Chunked:
            {
                var decoder = new ChunkedDecoder();
                if (!leftover.IsEmpty)
                {
                    var span = writer.GetSpan(leftover.Length);
                    leftover.Span.CopyTo(span);
                    var produced = decoder.Decode(span[..leftover.Length], out var consumed);
                    reusable &= consumed == leftover.Length;
                    writer.Advance(produced);
                }

                if (!decoder.Done)
                    await FlushAsync(writer);
                while (!decoder.Done)
                {
                    var memory = writer.GetMemory();
                    var n = await socket.ReceiveAsync(memory, SocketFlags.None);
                    if (n == 0)
                        throw new IOException("the app closed the connection before the last chunk");
                    var produced = decoder.Decode(memory.Span[..n], out var consumed);
                    reusable &= consumed == n;
                    writer.Advance(produced);
                    Touch();
                    await FlushAsync(writer);
                }

                if (decoder.Trailers is { } trailers)
                    AddTrailers(http, trailers.WrittenSpan);
                return reusable;
            }

            default:
            {
                if (!leftover.IsEmpty)
                    writer.Write(leftover.Span);
                await FlushAsync(writer);
                while (true)
                {
                    var memory = writer.GetMemory();
                    var n = await socket.ReceiveAsync(memory, SocketFlags.None);
                    if (n == 0)
                        return false;
                    writer.Advance(n);
                    Touch();
                    await FlushAsync(writer);
                }
            }
        }
    }

    /// <summary>Body bytes arrived: the activity timeout starts over.</summary>
    private void Touch()
    {
        try
        {
            _cts.CancelAfter(InboundAppClient.ActivityTimeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushAsync(PipeWriter writer)
    {
        var result = await writer.FlushAsync();
        if (result.IsCompleted || result.IsCanceled || _clientGone)
        {
            _clientGone = true;
            throw new ConnectionAbortedException("the caller went away");
        }
    }

    /// <summary>The app's chunked trailers, as YARP passes them: into the response's trailers when the caller's protocol has them.</summary>
    private void AddTrailers(HttpContext http, ReadOnlySpan<byte> lines)
    {
        if (http.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is not { IsReadOnly: false } trailers)
            return;
        foreach (var range in lines.Split("\r\n"u8))
        {
            var line = lines[range];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || InboundAppClient.SkipsResponseHeader(line[..colon]))
                continue;
            var key = HeaderStrings.Name(line[..colon]);
            var value = Encoding.Latin1.GetString(line[(colon + 1)..].Trim(" \t"u8));
            trailers[key] = trailers.TryGetValue(key, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
        }
    }
}
