using System.Net;

namespace Weft.Core.Health;

/// <summary>
/// The two HTTP clients every HTTP check shares: one that verifies server certificates and one for
/// checks with <c>TLSSkipVerify</c>. Ten thousand checks use two handlers, not ten thousand.
/// </summary>
internal sealed class HttpProbeClients : IDisposable
{
    // Bounds how long a resolved address is reused, should a connection outlive its request.
    private static readonly TimeSpan ConnectionLifetime = TimeSpan.FromMinutes(2);

    public HttpProbeClients()
    {
        Verifying = new HttpClient(CreateHandler(skipVerify: false)) { Timeout = Timeout.InfiniteTimeSpan };
        SkipVerify = new HttpClient(CreateHandler(skipVerify: true)) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public HttpClient Verifying { get; }

    public HttpClient SkipVerify { get; }

    private static SocketsHttpHandler CreateHandler(bool skipVerify)
    {
        var handler = new SocketsHttpHandler
        {
            // Consul follows up to 10 redirects (Go's default). A health endpoint that redirects is more
            // likely misconfigured than healthy, so Weft reports the 3xx itself, which is critical.
            AllowAutoRedirect = false,
            UseCookies = false,
            // Checks target the service directly; an HTTP_PROXY meant for outbound traffic must not decide
            // whether a local instance is healthy.
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = ConnectionLifetime,
        };
        if (skipVerify)
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        return handler;
    }

    public void Dispose()
    {
        Verifying.Dispose();
        SkipVerify.Dispose();
    }
}
