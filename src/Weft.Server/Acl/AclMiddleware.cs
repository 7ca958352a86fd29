using Microsoft.AspNetCore.Http;

namespace Weft.Server.Acl;

/// <summary>
/// Requires a known token (management or service) on every call except <c>/v1/status/*</c> and the dashboard's files, and records who the
/// caller is as the request's <see cref="AclIdentity"/>; endpoints decide what that identity may do. Clients send
/// the token as Consul's do: <c>X-Consul-Token</c>, <c>?token=</c>, or <c>Authorization: Bearer</c>. Consul's
/// messages: a call without a token is "Permission denied", one with an unknown token "ACL not found"; both 403.
/// </summary>
internal sealed class AclMiddleware(RequestDelegate next, AclTokens tokens)
{
    public Task InvokeAsync(HttpContext http)
    {
        // The dashboard's files hold no data; the page's own API calls carry the token.
        if (http.Request.Path.StartsWithSegments("/v1/status") || http.Request.Path.StartsWithSegments(Ui.UiFiles.Path))
            return next(http);

        var presented = Presented(http.Request);
        if (tokens.Resolve(presented) is { } identity)
        {
            http.Features.Set(identity);
            return next(http);
        }

        var message = string.IsNullOrEmpty(presented) ? "Permission denied" : "ACL not found";
        if (IsGrpc(http.Request))
        {
            // A gRPC client reads its status from a trailers-only answer, not from the HTTP status.
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "application/grpc";
            http.Response.Headers["grpc-status"] = "7"; // PERMISSION_DENIED
            http.Response.Headers["grpc-message"] = message;
            return Task.CompletedTask;
        }

        http.Response.StatusCode = StatusCodes.Status403Forbidden;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(message);
    }

    public static bool IsGrpc(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    private static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Consul-Token", out var header) && !string.IsNullOrEmpty(header))
            return header.ToString();
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization["Bearer ".Length..].Trim();
        return request.Query.TryGetValue("token", out var query) ? query.ToString() : null;
    }
}
