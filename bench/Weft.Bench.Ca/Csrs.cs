using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Weft.Bench.Ca;

/// <summary>
/// CSRs made before any timing, as a sidecar makes them (ECDSA P-256, the SPIFFE id as the one URI SAN), so the
/// figures are the server's signing round trip only; and the in-process reference: signing the same CSR with a local
/// P-256 CA and .NET's CertificateRequest, the crypto floor without HTTP, JSON or the store.
/// </summary>
internal static class Csrs
{
    public static List<string> Make(string trustDomain, int count)
    {
        var csrs = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN=bench-{i}", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddUri(new Uri($"spiffe://{trustDomain}/ns/default/svc/bench-{i % 50}"));
            request.CertificateExtensions.Add(san.Build());
            csrs.Add(request.CreateSigningRequestPem());
        }

        return csrs;
    }

    /// <summary>A local CA that signs a CSR as the server's does: parse, check nothing else, issue a 24 h leaf.</summary>
    public sealed class LocalCa : IDisposable
    {
        private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly X509Certificate2 _root;

        public LocalCa()
        {
            var request = new CertificateRequest("CN=bench local CA", _key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            _root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(7));
        }

        public string Sign(string csrPem)
        {
            var request = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
            var now = DateTimeOffset.UtcNow;
            using var leaf = request.Create(_root, now.AddMinutes(-1), now.AddHours(24), RandomNumberGenerator.GetBytes(16));
            return leaf.ExportCertificatePem();
        }

        public void Dispose()
        {
            _root.Dispose();
            _key.Dispose();
        }
    }
}
