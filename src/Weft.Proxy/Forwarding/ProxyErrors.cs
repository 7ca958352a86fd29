using System.Text;
using Microsoft.AspNetCore.Http;

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
/// </list>
/// </summary>
internal static class ProxyErrors
{
    public const string Header = "x-weft-error";

    public static int Status(ProxyErrorKind kind) => kind switch
    {
        ProxyErrorKind.UnknownUpstream => StatusCodes.Status404NotFound,
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
        _ => "none",
    };

    /// <summary>Writes the answer, or aborts the exchange if the upstream's response has already begun.</summary>
    public static Task WriteAsync(HttpContext context, ProxyErrorKind kind, string message)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        response.Clear();
        response.StatusCode = Status(kind);
        response.Headers[Header] = Code(kind);
        response.ContentType = "text/plain; charset=utf-8";
        var body = Encoding.UTF8.GetBytes("weft: " + message + "\n");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }
}
