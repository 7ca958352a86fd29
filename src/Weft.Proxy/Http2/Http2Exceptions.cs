namespace Weft.Proxy.Http2;

/// <summary>
/// The server never processed the stream: the connection could not be opened or was lost before the request's HEADERS
/// were handed to it, a GOAWAY's last stream id is below the stream's, or the server refused it (REFUSED_STREAM). The
/// request is safe to retry for any method, as a connect failure is.
/// </summary>
internal sealed class Http2NotProcessedException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>The stream was reset by the server (or failed with its connection) after the server may have processed it.</summary>
internal sealed class Http2StreamException(Http2ErrorCode code, string message, Exception? inner = null) : IOException(message, inner)
{
    public Http2ErrorCode Code { get; } = code;
}
