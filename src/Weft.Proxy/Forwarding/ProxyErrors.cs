using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Weft.Proxy.Forwarding;

/// <summary>Why the proxy answered a request itself.</summary>
internal enum ProxyErrorKind
{
    None,
    UnknownUpstream,
    NoRoute,
    NoHealthyEndpoint,
    Overflow,
    Timeout,
    PerTryTimeout,
    ConnectFailure,
    UpstreamReset,
    RetryBudgetExhausted,
    IntentionDenied,
}

/// <summary>
/// Answers the proxy gives itself: Envoy's status codes, an <c>x-weft-error</c> header naming the cause and a one-line
/// body saying what happened. Responses from upstreams never pass through here.
/// <list type="bullet">
/// <item><c>404 unknown-upstream</c>: the Host names no service in the mesh config. 404, as Envoy's NR: the caller asked
/// for something that does not exist, and retrying elsewhere will not help; a 503 would read as an outage.</item>
/// <item><c>503 no-route</c>: the upstream exists but cannot take this request (e.g. HTTP sent to a <c>tcp</c> service).</item>
/// <item><c>503 no-healthy-endpoint</c>, <c>503 overflow</c> (breaker), <c>503 retry-budget-exhausted</c> (body names the
/// failure that would have been retried).</item>
/// <item><c>504 timeout</c> (route request timeout), <c>504 per-try-timeout</c> (the last try timed out).</item>
/// <item><c>502 connect-failure</c>, <c>502 upstream-reset</c>.</item>
/// <item><c>403 intention-denied</c>: an intention (or the default, when none matches) does not let the caller in;
/// the body names source and destination. gRPC: PERMISSION_DENIED.</item>
/// </list>
/// gRPC calls get the same header and a trailers-only answer with <c>grpc-status</c> (UNAVAILABLE, DEADLINE_EXCEEDED,
/// UNIMPLEMENTED) and the line as <c>grpc-message</c>.
/// </summary>
internal static class ProxyErrors
{
    public const string Header = "x-weft-error";

    public static int Status(ProxyErrorKind kind) => kind switch
    {
        ProxyErrorKind.UnknownUpstream => StatusCodes.Status404NotFound,
        ProxyErrorKind.IntentionDenied => StatusCodes.Status403Forbidden,
        ProxyErrorKind.Timeout or ProxyErrorKind.PerTryTimeout => StatusCodes.Status504GatewayTimeout,
        ProxyErrorKind.ConnectFailure or ProxyErrorKind.UpstreamReset => StatusCodes.Status502BadGateway,
        _ => StatusCodes.Status503ServiceUnavailable,
    };

    public static string Code(ProxyErrorKind kind) => kind switch
    {
        ProxyErrorKind.UnknownUpstream => "unknown-upstream",
        ProxyErrorKind.NoRoute => "no-route",
        ProxyErrorKind.NoHealthyEndpoint => "no-healthy-endpoint",
        ProxyErrorKind.Overflow => "overflow",
        ProxyErrorKind.Timeout => "timeout",
        ProxyErrorKind.PerTryTimeout => "per-try-timeout",
        ProxyErrorKind.ConnectFailure => "connect-failure",
        ProxyErrorKind.UpstreamReset => "upstream-reset",
        ProxyErrorKind.RetryBudgetExhausted => "retry-budget-exhausted",
        ProxyErrorKind.IntentionDenied => "intention-denied",
        _ => "none",
    };

    private static bool IsGrpc(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>Envoy's mapping of its own HTTP answers to gRPC status codes.</summary>
    private static string GrpcStatus(ProxyErrorKind kind) => kind switch
    {
        ProxyErrorKind.UnknownUpstream => "12", // UNIMPLEMENTED
        ProxyErrorKind.IntentionDenied => "7", // PERMISSION_DENIED
        ProxyErrorKind.Timeout or ProxyErrorKind.PerTryTimeout => "4", // DEADLINE_EXCEEDED
        _ => "14", // UNAVAILABLE
    };

    /// <summary>
    /// Writes the answer, or aborts the exchange if the upstream's response has already begun. It carries a
    /// <c>Date</c>, as any answer of an origin with a clock must (RFC 9110, 6.6.1): Kestrel adds one of its own, Weft's
    /// own HTTP/2 server does not.
    /// </summary>
    public static Task WriteAsync(HttpContext context, ProxyErrorKind kind, string message, DateTimeOffset now)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        response.Clear();
        response.Headers.Date = now.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        response.Headers[Header] = Code(kind);
        if (IsGrpc(context.Request))
        {
            // gRPC clients read the status from grpc-status, not the HTTP status: answer trailers-only, as Envoy does.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = GrpcStatus(kind);
            response.Headers["grpc-message"] = Uri.EscapeDataString("weft: " + message);
            return Task.CompletedTask;
        }

        response.StatusCode = Status(kind);
        response.ContentType = "text/plain; charset=utf-8";
        var body = Encoding.UTF8.GetBytes("weft: " + message + "\n");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }

    /// <summary>
    /// The same answer as <see cref="WriteAsync"/> for a plain HTTP/1.1 request, written as raw bytes by the fast path
    /// (which has no HttpContext): status, <c>x-weft-error</c>, a one-line text body.
    /// </summary>
    public static void WriteHttp1(IBufferWriter<byte> output, ProxyErrorKind kind, string message, bool close, DateTimeOffset now)
    {
        var status = Status(kind);
        var body = "weft: " + message + "\n";
        var bodyLength = Encoding.UTF8.GetByteCount(body);
        var head = $"HTTP/1.1 {status} {ReasonPhrases.GetReasonPhrase(status)}\r\nContent-Type: text/plain; charset=utf-8\r\n{Header}: {Code(kind)}\r\n" +
            $"Content-Length: {bodyLength}\r\n{(close ? "Connection: close\r\n" : "")}Date: {now:R}\r\n\r\n";
        var span = output.GetSpan(head.Length + bodyLength);
        var n = Encoding.ASCII.GetBytes(head, span);
        n += Encoding.UTF8.GetBytes(body, span[n..]);
        output.Advance(n);
    }
}
