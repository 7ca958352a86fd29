namespace Weft.Proxy.Tests.FastPath;

/// <summary>What the caller must see of one scripted upstream response, and whether the upstream connection may carry the next request.</summary>
internal enum Outcome
{
    /// <summary>The response as the upstream framed it (status and body), the connection reused for the next request.</summary>
    Reused,

    /// <summary>The response, but the connection closed after it (a fresh one for the next request).</summary>
    Closed,

    /// <summary>A 502 upstream-reset before any of the response reached the caller; the connection closed.</summary>
    BadGateway,

    /// <summary>The response began, then broke (never a complete success): a 502, or the caller's connection cut mid-response.</summary>
    Broken,
}

/// <summary>One scripted upstream answer to the first request: the exact bytes, whether the upstream closes after them, what the caller must see.</summary>
/// <summary>(<paramref name="Reason"/>: what the 502's message must say was wrong.)</summary>
internal sealed record UpstreamCase(string Response, Outcome Outcome, int Status = 200, string? Body = "ok", string Method = "GET", bool UpstreamCloses = false, string? Reason = null);

/// <summary>
/// Upstream responses a buggy or hostile HTTP/1.1 server can send, and what a proxy that pools upstream connections
/// must make of them (RFC 9112): valid oddities pass, ambiguous or broken framing is an upstream error, and a
/// connection whose framing is in doubt or that has bytes left over never carries another request.
/// </summary>
internal static class UpstreamCases
{
    private const string Ok = "HTTP/1.1 200 OK\r\n";

    public static readonly IReadOnlyDictionary<string, UpstreamCase> All = new Dictionary<string, UpstreamCase>
    {
        // Valid, kept alive.
        ["no-reason-phrase"] = new("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", Outcome.Reused),
        ["empty-reason-phrase"] = new("HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", Outcome.Reused),
        ["content-length-with-ows"] = new(Ok + "Content-Length:   2  \r\n\r\nok", Outcome.Reused),
        ["same-content-length-twice"] = new(Ok + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", Outcome.Reused),
        ["gzip-then-chunked"] = new(Ok + "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Outcome.Reused),
        ["chunk-extensions"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n2;name=value;q=\"x y\"\r\nok\r\n0;last\r\n\r\n", Outcome.Reused),
        ["chunked-trailers"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n1\r\no\r\n1\r\nk\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n", Outcome.Reused),
        ["interim-103-then-200"] = new("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + Ok + "Content-Length: 2\r\n\r\nok", Outcome.Reused),
        ["interim-102-100-103-then-200"] = new("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n" + Ok + "Content-Length: 2\r\n\r\nok", Outcome.Reused),
        ["head-content-length-no-body"] = new(Ok + "Content-Length: 1000\r\n\r\n", Outcome.Reused, Body: "", Method: "HEAD"),
        ["304-content-length-no-body"] = new("HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n", Outcome.Reused, 304, ""),
        ["204-no-body"] = new("HTTP/1.1 204 No Content\r\n\r\n", Outcome.Reused, 204, ""),

        // Valid, but the connection cannot carry another exchange.
        ["http10-response"] = new("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", Outcome.Closed),
        // (An HTTP/1.0 keep-alive is not trusted: the connection is not pooled.)
        ["http10-keep-alive"] = new("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", Outcome.Closed),
        ["connection-close"] = new(Ok + "Connection: close\r\nContent-Length: 2\r\n\r\nok", Outcome.Closed, UpstreamCloses: true),
        ["close-delimited"] = new(Ok + "\r\nok", Outcome.Closed, UpstreamCloses: true),
        ["second-response-after-body"] = new(Ok + "Content-Length: 2\r\n\r\nok" + Ok + "Content-Length: 6\r\n\r\npoison", Outcome.Closed),
        ["bytes-after-last-chunk"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + Ok + "Content-Length: 6\r\n\r\npoison", Outcome.Closed),
        ["head-response-with-body"] = new(Ok + "Content-Length: 6\r\n\r\npoison", Outcome.Closed, Body: "", Method: "HEAD"),
        ["204-with-body"] = new("HTTP/1.1 204 No Content\r\nContent-Length: 6\r\n\r\npoison", Outcome.Closed, 204, ""),
        ["304-with-body"] = new("HTTP/1.1 304 Not Modified\r\nContent-Length: 6\r\n\r\npoison", Outcome.Closed, 304, ""),
        // RFC 9112 6.3: Transfer-Encoding wins over Content-Length, and the connection closes after the response.
        ["content-length-and-chunked"] = new(Ok + "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Outcome.Closed),
        ["chunked-and-content-length"] = new(Ok + "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n2\r\nok\r\n0\r\n\r\n", Outcome.Closed),
        // Chunked not last: the body runs until the upstream closes (RFC 9112 6.3, point 4).
        ["chunked-then-gzip"] = new(Ok + "Transfer-Encoding: chunked, gzip\r\n\r\nok", Outcome.Closed, UpstreamCloses: true),
        ["transfer-encoding-identity"] = new(Ok + "Transfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nok", Outcome.Closed, UpstreamCloses: true),
        // Not "chunked" (a suffix is not the token): an unknown coding, so close-delimited, the chunk framing is body.
        ["transfer-encoding-xchunked"] = new(Ok + "Transfer-Encoding: xchunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Outcome.Closed, Body: "2\r\nok\r\n0\r\n\r\n", UpstreamCloses: true),

        // Broken before the caller saw anything: 502 upstream-reset.
        ["two-content-lengths"] = new(Ok + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nok!", Outcome.BadGateway, Reason: "two different Content-Length values"),
        ["content-length-list"] = new(Ok + "Content-Length: 2, 3\r\n\r\nok!", Outcome.BadGateway, Reason: "an invalid Content-Length"),
        ["content-length-not-a-number"] = new(Ok + "Content-Length: two\r\n\r\nok", Outcome.BadGateway, Reason: "an invalid Content-Length"),
        ["content-length-negative"] = new(Ok + "Content-Length: -2\r\n\r\nok", Outcome.BadGateway, Reason: "an invalid Content-Length"),
        ["content-length-plus"] = new(Ok + "Content-Length: +2\r\n\r\nok", Outcome.BadGateway, Reason: "an invalid Content-Length"),
        ["content-length-overflow"] = new(Ok + "Content-Length: 99999999999999999999999\r\n\r\nok", Outcome.BadGateway, Reason: "an invalid Content-Length"),
        ["content-length-inner-space"] = new(Ok + "Content-Length: 1 2\r\n\r\nok", Outcome.BadGateway, Reason: "an invalid Content-Length"),
        ["content-length-empty"] = new(Ok + "Content-Length:\r\n\r\nok", Outcome.BadGateway, Reason: "an invalid Content-Length"),
        ["status-two-digits"] = new("HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a malformed status line"),
        ["status-000"] = new("HTTP/1.1 000 Zero\r\n\r\n" + Ok + "Content-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a malformed status line"),
        ["status-line-garbage"] = new("garbage\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a malformed status line"),
        ["http2-status-line"] = new("HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a malformed status line"),
        ["switching-protocols"] = new("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nok", Outcome.BadGateway, Reason: "101 Switching Protocols"),
        ["obs-fold"] = new(Ok + "X-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a header line without a name and colon"),
        ["obs-fold-with-colon"] = new(Ok + "X-Folded: a\r\n b: c\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "not a token"),
        ["header-without-colon"] = new(Ok + "NoColonHere\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a header line without a name and colon"),
        ["space-before-colon"] = new(Ok + "Transfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "not a token"),
        ["tab-before-colon"] = new(Ok + "Content-Length\t: 6\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "not a token"),
        ["nul-in-value"] = new(Ok + "X-Bad: a\0b\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a control character"),
        ["cr-in-value"] = new(Ok + "X-Bad: a\rb\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a control character"),
        ["lf-in-value"] = new(Ok + "X-Bad: a\nContent-Length: 6\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "a control character"),
        ["head-too-large"] = new(Ok + "X-Big: " + new string('a', 70 * 1024) + "\r\nContent-Length: 2\r\n\r\nok", Outcome.BadGateway, Reason: "response head larger than"),
        ["closes-mid-head"] = new(Ok + "Content-Le", Outcome.BadGateway, UpstreamCloses: true, Reason: "in the middle of the response head"),

        // The response began, then its framing broke or the upstream went away.
        ["chunk-size-overflow"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n10000000000000002\r\nok\r\n0\r\n\r\n", Outcome.Broken),
        ["chunk-size-not-hex"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n", Outcome.Broken),
        ["chunk-size-negative"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n-2\r\nok\r\n0\r\n\r\n", Outcome.Broken),
        ["chunk-data-without-crlf"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n", Outcome.Broken),
        ["chunk-extension-with-lf"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n2;a\nb\r\nok\r\n0\r\n\r\n", Outcome.Broken),
        ["trailer-with-bare-lf"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\n\r\n", Outcome.Broken),
        ["closes-mid-chunk"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n10\r\nonly", Outcome.Broken, UpstreamCloses: true),
        ["closes-before-last-chunk"] = new(Ok + "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", Outcome.Broken, UpstreamCloses: true),
        ["closes-mid-content-length"] = new(Ok + "Content-Length: 100\r\n\r\nonly", Outcome.Broken, UpstreamCloses: true),
    };

    public static TheoryData<string> Names => new(All.Keys);
}
