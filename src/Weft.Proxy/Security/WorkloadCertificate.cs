using System.Collections.Immutable;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Weft.Core.Identity;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Security;

/// <summary>This sidecar's leaf certificate with its private key (in memory only) and the intermediates it presents.</summary>
internal sealed class WorkloadCertificate
{
    private WorkloadCertificate(X509Certificate2 leaf, ImmutableArray<X509Certificate2> intermediates, SpiffeId id, DateTimeOffset receivedAt)
    {
        ReceivedAt = receivedAt;
        Leaf = leaf;
        Intermediates = intermediates;
        Id = id;
        // offline: the chain is built from what we hold; there is nothing to fetch.
        Context = SslStreamCertificateContext.Create(leaf, [.. intermediates], offline: true);
    }

    public X509Certificate2 Leaf { get; }
    public ImmutableArray<X509Certificate2> Intermediates { get; }
    public SpiffeId Id { get; }

    /// <summary>Built once per certificate and shared by every handshake that presents it.</summary>
    public SslStreamCertificateContext Context { get; }

    public DateTimeOffset NotBefore => new(Leaf.NotBefore.ToUniversalTime());
    public DateTimeOffset NotAfter => new(Leaf.NotAfter.ToUniversalTime());
    public string SerialNumber => Leaf.SerialNumber;

    /// <summary>When this sidecar got the certificate.</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>
    /// The lifetime renewal is measured against: from when it was issued (received), not from <see cref="NotBefore"/>,
    /// which CAs backdate for clock skew (Weft's and Consul's by a minute) — against a short TTL that would renew at once.
    /// </summary>
    public (DateTimeOffset Start, TimeSpan Length) Lifetime
    {
        get
        {
            var start = ReceivedAt > NotBefore && ReceivedAt < NotAfter ? ReceivedAt : NotBefore;
            return (start, NotAfter - start);
        }
    }

    /// <summary>Pairs the signed chain (leaf first, then intermediates, PEM) with the key whose CSR it answers.</summary>
    public static WorkloadCertificate FromPem(string chainPem, ECDsa key, DateTimeOffset receivedAt)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPem(chainPem);
        if (all.Count == 0)
            throw new CryptographicException("the signed certificate is empty");
        X509Certificate2 leaf;
        using (var publicOnly = all[0])
            leaf = publicOnly.CopyWithPrivateKey(key);
        var id = PeerIdentity.FromCertificate(leaf) ?? throw new CryptographicException("the signed certificate carries no SPIFFE id");
        return new WorkloadCertificate(leaf, [.. all.Skip(1)], id, receivedAt);
    }

    /// <summary>A new P-256 key and a PKCS#10 request for <paramref name="id"/> (its only SAN, a URI).</summary>
    public static (ECDsa Key, string CsrPem) NewRequest(SpiffeId id)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={id.Service}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(id.ToUri());
        request.CertificateExtensions.Add(san.Build(critical: false));
        return (key, request.CreateSigningRequestPem());
    }
}
