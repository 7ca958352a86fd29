using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Weft.Core.Identity;

namespace Weft.Server.Ca;

/// <summary>
/// A sidecar's PKCS#10 certificate signing request, checked: an ECDSA P-256 key, a valid signature (so the sender
/// holds the key), and exactly one subject alternative name, the SPIFFE URI of a service in this trust domain.
/// Anything else is refused with a message that names the problem.
/// </summary>
internal sealed record SigningRequest(PublicKey PublicKey, SpiffeId Identity)
{
    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string P256Oid = "1.2.840.10045.3.1.7";
    private const int MaxPemLength = 16 * 1024;

    public static bool TryParse(string? pem, string trustDomain, out SigningRequest? request, out string error)
    {
        request = null;
        error = "";
        if (string.IsNullOrWhiteSpace(pem))
            return Fail("CSR is required: send {\"CSR\": \"-----BEGIN CERTIFICATE REQUEST-----...\"}", out error);
        if (pem.Length > MaxPemLength)
            return Fail($"CSR is too large ({pem.Length} characters; at most {MaxPemLength})", out error);
        if (!pem.Contains("-----BEGIN CERTIFICATE REQUEST-----", StringComparison.Ordinal))
            return Fail("CSR is not a PEM certificate request: expected a \"-----BEGIN CERTIFICATE REQUEST-----\" block", out error);

        CertificateRequest parsed;
        try
        {
            parsed = CertificateRequest.LoadSigningRequestPem(pem, HashAlgorithmName.SHA256,
                CertificateRequestLoadOptions.SkipSignatureValidation | CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or AsnContentException)
        {
            return Fail($"CSR is malformed: {e.Message.TrimEnd('.')}", out error);
        }

        if (parsed.PublicKey.Oid.Value != EcPublicKeyOid)
            return Fail($"CSR key must be ECDSA P-256, not {KeyName(parsed.PublicKey)}", out error);
        var curve = Curve(parsed.PublicKey);
        if (curve != P256Oid)
            return Fail($"CSR key must be ECDSA P-256, not ECDSA on curve {CurveName(curve)}", out error);

        try
        {
            CertificateRequest.LoadSigningRequestPem(pem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (CryptographicException)
        {
            return Fail("CSR signature is not valid: it was not signed by the key it carries", out error);
        }

        var sans = parsed.CertificateExtensions.Where(e => e.Oid?.Value == CaCertificates.UriSanOid).ToList();
        if (sans.Count == 0)
            return Fail($"CSR has no subject alternative name: it must carry exactly one URI SAN spiffe://{trustDomain}/ns/default/svc/<service>", out error);
        if (sans.Count > 1)
            return Fail("CSR has more than one subject alternative name extension", out error);

        List<string> uris;
        int others;
        try
        {
            uris = CaCertificates.UrisOf(sans[0], out others);
        }
        catch (AsnContentException e)
        {
            return Fail($"CSR subject alternative name is malformed: {e.Message.TrimEnd('.')}", out error);
        }

        if (others > 0)
            return Fail("CSR subject alternative names must be exactly one URI; DNS names, IP addresses and other kinds are not allowed", out error);
        if (uris.Count != 1)
            return Fail($"CSR must carry exactly one URI SAN, it has {uris.Count}", out error);
        if (!SpiffeId.TryParse(uris[0], out var id))
            return Fail($"CSR URI SAN \"{uris[0]}\" is not a SPIFFE service ID spiffe://{trustDomain}/ns/default/svc/<service>", out error);
        if (!string.Equals(id.TrustDomain, trustDomain, StringComparison.OrdinalIgnoreCase))
            return Fail($"CSR URI SAN \"{uris[0]}\" is in trust domain \"{id.TrustDomain}\"; this server's trust domain is \"{trustDomain}\"", out error);
        if (id.Namespace != SpiffeId.DefaultNamespace)
            return Fail($"CSR URI SAN \"{uris[0]}\" names namespace \"{id.Namespace}\"; only \"{SpiffeId.DefaultNamespace}\" exists", out error);

        request = new SigningRequest(parsed.PublicKey, SpiffeId.ForService(trustDomain, id.Service));
        return true;
    }

    private static string? Curve(PublicKey key)
    {
        try
        {
            if (key.EncodedParameters?.RawData is not { Length: > 0 } raw) return null;
            var reader = new AsnReader(raw, AsnEncodingRules.DER);
            return reader.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier) ? reader.ReadObjectIdentifier() : null;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    private static string CurveName(string? oid) => oid switch
    {
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        null => "(explicit parameters)",
        _ => oid,
    };

    private static string KeyName(PublicKey key) => key.Oid.Value switch
    {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10040.4.1" => "DSA",
        var oid => $"key algorithm {oid}",
    };

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }
}
