using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Weft.Proxy.Http2;

/// <summary>The request head as HPACK decodes it (<see cref="IHeaderSink"/>), checked against RFC 9113 8.3.</summary>
internal sealed partial class Http2ServerStream
{
    // "expect: 100-continue" with a body to come: the first read of the body sends the interim 100 head, as Kestrel does.
    private bool _expectContinue;

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_decodingTrailers)
        {
            OnTrailer(name, value);
            return;
        }

        if (_malformed is not null)
            return;
        if (name.IsEmpty || !FieldRules.IsValidValue(value))
        {
            _malformed = Http2ErrorCode.ProtocolError;
            return;
        }

        if (name[0] == (byte)':')
        {
            if (_regularSeen)
            {
                _malformed = Http2ErrorCode.ProtocolError;
                return;
            }

            if (name.SequenceEqual(":method"u8))
                SetPseudo(ref _method, value, Known(value, ref _lastMethod));
            else if (name.SequenceEqual(":scheme"u8))
                SetPseudo(ref _scheme, value, Known(value, ref _lastScheme));
            else if (name.SequenceEqual(":authority"u8))
                SetPseudo(ref _authority, value, Known(value, ref _lastAuthority));
            else if (name.SequenceEqual(":path"u8))
                SetPseudo(ref _path, value);
            else
                _malformed = Http2ErrorCode.ProtocolError; // :protocol (we never enable extended CONNECT), :status, unknown
            return;
        }

        _regularSeen = true;
        if (!FieldRules.IsRegularName(name))
        {
            _malformed = Http2ErrorCode.ProtocolError;
            return;
        }

        var key = HeaderName(name);
        if (FieldRules.IsConnectionSpecific(name) || key == "te" && !value.SequenceEqual("trailers"u8))
        {
            _malformed = Http2ErrorCode.ProtocolError;
            return;
        }

        var text = Encoding.Latin1.GetString(value);
        if (key == "expect" && text.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
            _expectContinue = true;
        if (key == "content-length")
        {
            if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length)
                || ContentLength >= 0 && ContentLength != length)
            {
                _malformed = Http2ErrorCode.ProtocolError;
                return;
            }

            ContentLength = length;
        }

        if (_requestHeaders.TryGetValue(key, out var existing))
            _requestHeaders[key] = key == "cookie" ? (StringValues)(existing + "; " + text) : StringValues.Concat(existing, text);
        else
            _requestHeaders[key] = text;
    }

    private void SetPseudo(ref string? field, ReadOnlySpan<byte> value, string? known = null)
    {
        if (field is not null)
            _malformed = Http2ErrorCode.ProtocolError;
        else
            field = known ?? Encoding.Latin1.GetString(value);
    }

    // The last method, scheme and authority seen on this stream object: between two sidecars they repeat, so the
    // string is reused rather than decoded again.
    private string? _lastMethod, _lastScheme, _lastAuthority;

    private static string Known(ReadOnlySpan<byte> value, ref string? last)
    {
        if (last is { } previous && previous.Length == value.Length)
        {
            var same = true;
            for (var i = 0; i < value.Length && same; i++)
                same = previous[i] == value[i];
            if (same)
                return previous;
        }

        return last = Encoding.Latin1.GetString(value);
    }

    private static string HeaderName(ReadOnlySpan<byte> name) => name switch
    {
        _ when name.SequenceEqual("content-length"u8) => "content-length",
        _ when name.SequenceEqual("content-type"u8) => "content-type",
        _ when name.SequenceEqual("user-agent"u8) => "user-agent",
        _ when name.SequenceEqual("accept"u8) => "accept",
        _ when name.SequenceEqual("traceparent"u8) => "traceparent",
        _ when name.SequenceEqual("x-weft-source"u8) => "x-weft-source",
        _ => Encoding.ASCII.GetString(name),
    };

    /// <summary>RFC 9113 8.3.1: the error to reset with when the request head is malformed or refused, else null.</summary>
    public Http2ErrorCode? ValidateRequest()
    {
        if (_malformed is { } malformed)
            return malformed;
        if (_method is null)
            return Http2ErrorCode.ProtocolError;
        if (_method == "CONNECT")
            return Http2ErrorCode.RefusedStream; // no tunnels here, and no extended CONNECT (WebSockets over HTTP/2): never advertised
        if (_scheme is null || _path is null || _path.Length == 0)
            return Http2ErrorCode.ProtocolError;
        if (_path[0] != '/' && !(_path == "*" && _method == "OPTIONS"))
            return Http2ErrorCode.ProtocolError;
        if (!CanHaveBody && ContentLength > 0)
            return Http2ErrorCode.ProtocolError;

        Method = HttpMethods.GetCanonicalizedValue(_method);
        Scheme = _scheme;
        RawTarget = _path;
        var query = _path.IndexOf('?');
        var pathPart = query < 0 ? _path : _path[..query];
        // Unescaped as Kestrel does only when there is something to unescape.
        Path = pathPart == "*" ? "" : pathPart.Contains('%') ? PathString.FromUriComponent(pathPart).Value ?? "" : pathPart;
        QueryString = query < 0 ? "" : _path[query..];
        if (_authority is not null)
            _requestHeaders["Host"] = _authority;
        return null;
    }
}
