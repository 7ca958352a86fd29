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

/// <summary>The app's response into the caller's <see cref="HttpContext.Response"/>: head, headers, body in its framing, trailers.</summary>
internal sealed partial class AppExchange
{
    /// <summary>Reads the final response head into the receive buffer, dropping interim ones; false when the app closed without a byte.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder<>))]
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
                ReturnIfRented(_recv);
                _recv = bigger;
            }

            var n = await connection.ReceiveAsync(_recv.AsMemory(_recvCount));
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
                    throw new InvalidDataException("the app sent " + (_response.Problem ?? "101 Switching Protocols to a request without Upgrade"));
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
            if (RawHttp1Client.SkipsResponseHeader(name) || _response.ConnectionOptions && ResponseHead.NamedInConnection(head, name))
                continue;
            var key = HeaderStrings.Name(name);
            var value = strings.Value(line[(colon + 1)..].Trim(" \t"u8));
            headers[key] = headers.TryGetValue(key, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
        }

        // Content-Length stays when it frames the body (or is only declared, as on a HEAD response); never beside chunked.
        // (Not on a 204, which has no content to measure: Kestrel refuses that header there.)
        if (!_response.Chunked && !_response.OtherTransferEncoding && _response.ContentLength >= 0 && _response.Status != 204
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
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder<>))]
    private async ValueTask<bool> CopyBodyAsync(HttpContext http, UpstreamConnection connection, BodyFraming framing)
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
                    var n = await connection.ReceiveAsync(memory[..(int)Math.Min(memory.Length, remaining)]);
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
                    var n = await connection.ReceiveAsync(memory);
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
                    var n = await connection.ReceiveAsync(memory);
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
    private void Touch() => Volatile.Write(ref _lastActivity, owner.Time.GetTimestamp());

    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
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
            if (colon <= 0 || RawHttp1Client.SkipsResponseHeader(line[..colon]))
                continue;
            var key = HeaderStrings.Name(line[..colon]);
            var value = Encoding.Latin1.GetString(line[(colon + 1)..].Trim(" \t"u8));
            trailers[key] = trailers.TryGetValue(key, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
        }
    }
}
