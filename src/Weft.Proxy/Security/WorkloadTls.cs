using System.Net;
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
    // Bounded: every peer of a mesh presents the same few (an operator's intermediate, cross-signed roots).
    private const int MaxLearnedIntermediates = 16;

    private WorkloadCertificate _certificate;
    private TrustBundle _bundle;
    private long _handshakeFailures;
    private X509Certificate2[] _learnedIntermediates = [];

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

    /// <summary>
    /// For one outbound handshake to a sidecar of <paramref name="service"/> at <paramref name="endpoint"/>: its
    /// certificate must say it is that service.
    /// </summary>
    public SslClientAuthenticationOptions ClientOptions(string service, DnsEndPoint? endpoint = null) => new()
    {
        // Also the key of .NET's client session cache, which keeps one TLS session per name (and per client
        // certificate): one name per instance, so a new connection to an instance resumes that instance's session
        // instead of offering another instance's ticket, which its server cannot decrypt. Nothing reads it as SNI.
        TargetHost = endpoint is null ? service : SessionName(service, endpoint),
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
        var presented = chain?.ChainPolicy.ExtraStore;
        var learned = Volatile.Read(ref _learnedIntermediates);
        X509Certificate2Collection? helpers = presented;
        if (learned.Length > 0)
        {
            helpers = [.. learned];
            if (presented is not null) helpers.AddRange(presented);
        }

        var id = Bundle.Validate(leaf, helpers, _time.GetUtcNow(), expectedService, out var error);
        if (id is null)
            LogRejected(_log, direction, error!);
        else if (presented is { Count: > 0 })
            Learn(presented);
        return id is not null;
    }

    /// <summary>
    /// A resumed TLS 1.3 session carries the peer's leaf but not the intermediates it presented in the full handshake,
    /// so its leaf is checked again with the intermediates earlier peers presented in handshakes that validated. They
    /// only help build a chain: it must still end at a root of the bundle.
    /// </summary>
    private void Learn(X509Certificate2Collection presented)
    {
        var learned = Volatile.Read(ref _learnedIntermediates);
        var added = learned;
        foreach (var cert in presented)
        {
            if (added.Length >= MaxLearnedIntermediates) break;
            if (cert.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true }) continue;
            if (added.Any(known => known.RawDataMemory.Span.SequenceEqual(cert.RawDataMemory.Span))) continue;
            added = [.. added, X509CertificateLoader.LoadCertificate(cert.RawData)];
        }

        if (!ReferenceEquals(added, learned))
            Interlocked.CompareExchange(ref _learnedIntermediates, added, learned);
    }

    private static string SessionName(string service, DnsEndPoint endpoint)
    {
        var where = $"{endpoint.Host}-{endpoint.Port}".Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray();
        return $"{service}.{new string(where)}";
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Warning, Message = "mTLS {Direction}: peer rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, string direction, string reason);
}
