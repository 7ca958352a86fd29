using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Weft.Proxy.Http2;

/// <summary>
/// Trailers both ways, as Kestrel's HTTP/2 streams have them: the response's (gRPC's <c>grpc-status</c>, copied by YARP)
/// go as a last HEADERS frame with END_STREAM, and may be added until the response ends, declared or not; the request's
/// arrive in a HEADERS block with END_STREAM after the body and are <see cref="IHttpRequestTrailersFeature.Available"/>
/// once the body has ended (with or without trailers), so a reader that reached the body's end always finds them.
/// </summary>
internal sealed partial class Http2ServerStream : IHttpResponseTrailersFeature, IHttpRequestTrailersFeature
{
    private readonly HeaderDictionary _responseTrailers = new();
    private IHeaderDictionary? _appTrailers;
    private readonly HeaderDictionary _requestTrailers = new();
    private volatile bool _requestTrailersAvailable;
    private bool _decodingTrailers;
    private bool _trailersMalformed;

    IHeaderDictionary IHttpResponseTrailersFeature.Trailers
    {
        get => _appTrailers ??= _responseTrailers;
        set => _appTrailers = value;
    }

    bool IHttpRequestTrailersFeature.Available => _requestTrailersAvailable;

    IHeaderDictionary IHttpRequestTrailersFeature.Trailers => _requestTrailersAvailable ? _requestTrailers
        : throw new InvalidOperationException("The request trailers are not available yet. They may not be available until the full request body is read.");

    /// <summary>
    /// The trailers to send at the response's end (null when there are none); from then on they are read-only, as
    /// Kestrel's are once sent. Under the connection's lock, when the response ends.
    /// </summary>
    public IHeaderDictionary? TakeResponseTrailers()
    {
        if (_appTrailers is not { } trailers)
            return null;
        if (trailers is HeaderDictionary own)
            own.IsReadOnly = true;
        return trailers.Count > 0 ? trailers : null;
    }

    /// <summary>The request's body ended (END_STREAM, after trailers or not): its trailers can be read now.</summary>
    public void RequestTrailersComplete() => _requestTrailersAvailable = true;

    /// <summary>The read loop decodes a trailer block into this stream next (<see cref="OnHeader"/> takes it).</summary>
    public void BeginRequestTrailers()
    {
        _decodingTrailers = true;
        _trailersMalformed = false;
    }

    /// <summary>Ends the trailer block; false when it was malformed (a pseudo-header, a bad or connection-specific name).</summary>
    public bool EndRequestTrailers()
    {
        _decodingTrailers = false;
        return !_trailersMalformed;
    }

    private void OnTrailer(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_trailersMalformed)
            return;
        if (!FieldRules.IsRegularName(name) || !FieldRules.IsValidValue(value))
        {
            _trailersMalformed = true; // pseudo-headers too (RFC 9113 8.1)
            return;
        }

        if (FieldRules.IsConnectionSpecific(name))
        {
            _trailersMalformed = true;
            return;
        }

        var key = HeaderName(name);

        var text = Encoding.Latin1.GetString(value);
        _requestTrailers[key] = _requestTrailers.TryGetValue(key, out var existing) ? Http2ServerConnection.Join(existing, text) : text;
    }

    private void ResetTrailers(bool endStream)
    {
        _requestTrailersAvailable = endStream;
        _decodingTrailers = false;
        _trailersMalformed = false;
    }

    private void RecycleTrailers()
    {
        _requestTrailers.Clear();
        _requestTrailersAvailable = false;
        _responseTrailers.IsReadOnly = false;
        _responseTrailers.Clear();
        _appTrailers = null;
    }
}
