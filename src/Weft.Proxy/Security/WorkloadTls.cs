using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Weft.Proxy.Security;

/// <summary>
/// The sidecar's mTLS state: its current certificate and trust bundle (each swapped whole by the
/// <see cref="CertificateManager"/>), and the TLS options every handshake is built from — so a renewed certificate or a
/// rotated bundle applies to the next connection while open ones finish on what they negotiated.
/// </summary>
internal sealed partial class WorkloadTls
{
    private static readonly List<SslApplicationProtocol> H2 = [SslApplicationProtocol.Http2];

    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private WorkloadCertificate _certificate;
    private TrustBundle _bundle;
    private long _handshakeFailures;

    public WorkloadTls(WorkloadCertificate certificate, TrustBundle bundle, TimeProvider time, ILogger log)
    {
        _certificate = certificate;
        _bundle = bundle;
        _time = time;
        _log = log;
    }

    public TimeProvider Time => _time;

    public WorkloadCertificate Certificate => Volatile.Read(ref _certificate);
    public TrustBundle Bundle => Volatile.Read(ref _bundle);

    /// <summary>When the certificate this sidecar presents now expires.</summary>
    public DateTimeOffset CertificateExpiry => Certificate.NotAfter;

    /// <summary>TLS handshakes that failed, inbound and outbound (plaintext, untrusted, expired, wrong service, ...).</summary>
    public long TlsHandshakeFailures => Interlocked.Read(ref _handshakeFailures);

    public event Action<WorkloadCertificate>? CertificateChanged;

    public void Update(WorkloadCertificate certificate)
    {
        Volatile.Write(ref _certificate, certificate);
        CertificateChanged?.Invoke(certificate);
    }

    public void Update(TrustBundle bundle) => Volatile.Write(ref _bundle, bundle);

    public void RecordHandshakeFailure() => Interlocked.Increment(ref _handshakeFailures);

    /// <summary>For one inbound handshake: TLS 1.3, h2, a client certificate from the bundle required.</summary>
    public SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificateContext = Certificate.Context,
        ClientCertificateRequired = true,
        EnabledSslProtocols = SslProtocols.Tls13,
        ApplicationProtocols = H2,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, chain, _) => Accept(certificate, chain, expectedService: null, "inbound"),
    };

    /// <summary>For one outbound handshake to a sidecar of <paramref name="service"/>: its certificate must say it is that service.</summary>
    public SslClientAuthenticationOptions ClientOptions(string service) => new()
    {
        // Also the session cache's key: connections to the same service may resume.
        TargetHost = service,
        ClientCertificateContext = Certificate.Context,
        EnabledSslProtocols = SslProtocols.Tls13,
        ApplicationProtocols = H2,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, chain, _) => Accept(certificate, chain, service, "outbound"),
    };

    private bool Accept(X509Certificate? certificate, X509Chain? chain, string? expectedService, string direction)
    {
        if (certificate is null)
        {
            LogRejected(_log, direction, "no certificate presented");
            return false;
        }

        var leaf = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        var id = Bundle.Validate(leaf, chain?.ChainPolicy.ExtraStore, _time.GetUtcNow(), expectedService, out var error);
        if (id is null)
            LogRejected(_log, direction, error!);
        return id is not null;
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Warning, Message = "mTLS {Direction}: peer rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, string direction, string reason);
}
