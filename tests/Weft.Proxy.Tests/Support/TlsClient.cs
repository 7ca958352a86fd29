using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Weft.Proxy.Security;

namespace Weft.Proxy.Tests.Support;

/// <summary>An HTTP/2 client that speaks TLS to an inbound listener with the certificate a test picks (or none), and records the server certificate of each connection.</summary>
internal sealed class TlsClient : IDisposable
{
    private readonly HttpClient _http;

    public TlsClient(IPEndPoint inbound, WorkloadCertificate? certificate)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = "inbound",
                    ClientCertificateContext = certificate?.Context,
                    EnabledSslProtocols = SslProtocols.Tls13,
                    ApplicationProtocols = [SslApplicationProtocol.Http2],
                    RemoteCertificateValidationCallback = (_, c, _, _) => true,
                }, cancellationToken);
                lock (ServerCertificates)
                    ServerCertificates.Add(new X509Certificate2(ssl.RemoteCertificate!));
                Protocols.Add(ssl.SslProtocol);
                return ssl;
            },
        };
        _http = new HttpClient(handler)
        {
            BaseAddress = new Uri($"http://{inbound}"),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>The server certificate each new connection saw, in order.</summary>
    public List<X509Certificate2> ServerCertificates { get; } = [];

    public List<SslProtocols> Protocols { get; } = [];

    public Task<string> GetStringAsync(string path = "/") => _http.GetStringAsync(path);

    public void Dispose() => _http.Dispose();
}
