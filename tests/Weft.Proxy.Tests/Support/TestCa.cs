using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Weft.Core.Identity;
using Weft.Proxy.Security;

namespace Weft.Proxy.Tests.Support;

/// <summary>
/// A certificate authority made in the test (root → intermediate → leaves), standing in for the control plane's CA
/// where a test exercises the sidecar alone. It signs CSRs as the server does: the SPIFFE id is taken from the CSR,
/// the lifetime is <see cref="LeafTtl"/> from the test's clock, backdated a minute.
/// </summary>
internal sealed class TestCa : ICertificateAuthority, IDisposable
{
    private readonly ECDsa _rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private long _serial;

    public TestCa(TimeProvider? time = null, string trustDomain = "weft.test")
    {
        Time = time ?? TimeProvider.System;
        TrustDomain = trustDomain;
        var now = Time.GetUtcNow();
        var root = new CertificateRequest($"CN=Test Root {trustDomain}", _rootKey, HashAlgorithmName.SHA256);
        root.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        root.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Root = root.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        var intermediate = new CertificateRequest($"CN=Test Intermediate {trustDomain}", _intermediateKey, HashAlgorithmName.SHA256);
        intermediate.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        intermediate.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Intermediate = intermediate.Create(Root, now.AddDays(-1), now.AddYears(1), [1]);
    }

    public TimeProvider Time { get; }
    public string TrustDomain { get; }
    public X509Certificate2 Root { get; }
    public X509Certificate2 Intermediate { get; }
    public TimeSpan LeafTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>CSRs signed so far.</summary>
    public int Signed => (int)Interlocked.Read(ref _serial);

    /// <summary>Answers the next sign requests with this error (null: sign again).</summary>
    public Exception? FailSigning { get; set; }

    public TrustBundle Bundle() => new(TrustDomain, "root-1", [Root], [], index: 1);

    /// <summary>A leaf with key for any SPIFFE URI (any trust domain, any validity window), chained through the intermediate.</summary>
    public WorkloadCertificate Leaf(string service, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, string? uri = null)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={service}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(uri ?? SpiffeId.ForService(TrustDomain, service).ToString()));
        request.CertificateExtensions.Add(san.Build());
        var now = Time.GetUtcNow();
        return WorkloadCertificate.FromPem(Issue(request, notBefore ?? now.AddMinutes(-1), notAfter ?? now + LeafTtl), key, now);
    }

    /// <summary>A sidecar identity: a leaf of this CA for <paramref name="service"/> and this CA's bundle.</summary>
    public WorkloadTls Workload(string service) => new(Leaf(service), Bundle(), Time, NullLogger.Instance);

    public Task<TrustBundle> RootsAsync(ulong index, TimeSpan wait, CancellationToken cancellationToken) =>
        index <= 1 && index > 0
            ? Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => Bundle(), cancellationToken)
            : Task.FromResult(Bundle());

    public Task<string> SignAsync(string csrPem, CancellationToken cancellationToken)
    {
        if (FailSigning is { } failure)
            return Task.FromException<string>(failure);
        var request = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
        var now = Time.GetUtcNow();
        // Backdated a minute for clock skew, as the server's CA does.
        return Task.FromResult(Issue(request, now.AddMinutes(-1), now + LeafTtl));
    }

    private string Issue(CertificateRequest request, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var serial = new System.Numerics.BigInteger(Interlocked.Increment(ref _serial) + 1000).ToByteArray(isUnsigned: true, isBigEndian: true);
        using var leaf = request.Create(Intermediate.SubjectName, X509SignatureGenerator.CreateForECDsa(_intermediateKey), notBefore, notAfter, serial);
        return leaf.ExportCertificatePem() + "\n" + Intermediate.ExportCertificatePem() + "\n";
    }

    public void Dispose()
    {
        _rootKey.Dispose();
        _intermediateKey.Dispose();
    }
}
