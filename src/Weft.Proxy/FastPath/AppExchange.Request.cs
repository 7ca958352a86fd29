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

/// <summary>The request to the app: its head from the <see cref="HttpContext"/>, and its body, whole or streamed.</summary>
internal sealed partial class AppExchange
{
    private void Ensure(int extra)
    {
        if (_sendLength + extra <= _send.Length)
            return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_send.Length * 2, _sendLength + extra));
        _send.AsSpan(0, _sendLength).CopyTo(bigger);
        ReturnIfRented(_send);
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
        Write(request.Host.HasValue ? request.Host.Value : call.Endpoint!.HostPort);
        Write("\r\n"u8);

        var connection = headers.Connection;
        var trace = call.Trace;
        // The own HTTP/2 server's collection is walked with its struct enumerator: through the interface, every request
        // would box one.
        if (headers is HeaderDictionary own)
        {
            foreach (var (name, values) in own)
                WriteRequestHeader(name, values, connection, in trace);
        }
        else
        {
            foreach (var (name, values) in headers)
                WriteRequestHeader(name, values, connection, in trace);
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

    private void WriteRequestHeader(string name, StringValues values, StringValues connection, in TraceHop trace)
    {
        if (name.Length == 0 || name[0] == ':' || RawHttp1Client.SkippedRequestHeaders.Contains(name))
            return;
        if (trace.Decided && (name.Equals(ProxyTracing.TraceParent, StringComparison.OrdinalIgnoreCase)
            || !trace.HasParent && name.Equals(ProxyTracing.TraceState, StringComparison.OrdinalIgnoreCase)))
            return;
        if (connection.Count > 0 && Names(connection, name))
            return;
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
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder<>))]
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
    private async Task<bool> SendBodyAsync(UpstreamConnection connection, PipeReader reader, long length)
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
                        await connection.SendAllAsync(segment);
                        continue;
                    }

                    for (var data = segment; !data.IsEmpty;)
                    {
                        var part = data[..Math.Min(data.Length, chunk.Length - 32)];
                        var n = FormatChunkSize(chunk, part.Length);
                        part.Span.CopyTo(chunk.AsSpan(n));
                        n += part.Length;
                        "\r\n"u8.CopyTo(chunk.AsSpan(n));
                        await connection.SendAllAsync(chunk.AsMemory(0, n + 2));
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
                    await connection.SendAllAsync("0\r\n\r\n"u8.ToArray());
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
}
