namespace Weft.Cli.Api;

/// <summary>The server answered, and said no (any 4xx or 5xx).</summary>
internal sealed class ServerRefusedException(int statusCode, string reasonPhrase, string serverMessage)
    : Exception($"{statusCode} {reasonPhrase}: {serverMessage}")
{
    public int StatusCode { get; } = statusCode;
    public string ReasonPhrase { get; } = reasonPhrase;

    /// <summary>The plain-text body the server sent, trimmed; Consul puts its reason there.</summary>
    public string ServerMessage { get; } = serverMessage;

    /// <summary>403 is how Consul (and weft) refuse a missing, unknown or underprivileged token.</summary>
    public bool IsTokenRefused => StatusCode == 403;
}

/// <summary>No answer at all: refused connection, unknown host, timeout, TLS failure.</summary>
internal sealed class ServerUnreachableException(Uri address, string reason, Exception inner)
    : Exception($"cannot reach {address}: {reason}", inner)
{
    public Uri Address { get; } = address;
    public string Reason { get; } = reason;
}

/// <summary>The server answered 2xx with a body that is not the documented shape.</summary>
internal sealed class UnexpectedResponseException(string path, string detail)
    : Exception($"unexpected response from {path}: {detail}");
