using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Weft.Server.Ca;

/// <summary>
/// The X.509 work of the certificate authority: roots and cross-signed roots, built with <see cref="CertificateRequest"/>
/// (leaves, on the hot path, with <see cref="LeafSigner"/>). Times are whole seconds, as X.509 keeps them.
/// </summary>
internal static class CaCertificates
{
    public const string UriSanOid = "2.5.29.17";
    public static readonly TimeSpan RootTtl = TimeSpan.FromDays(3650);

    // A leaf is valid from a minute before it is signed, so clocks a little behind the server's accept it.
    public static readonly TimeSpan Backdate = TimeSpan.FromMinutes(1);

    /// <summary>A new self-signed ECDSA P-256 root for <paramref name="trustDomain"/>, with its key.</summary>
    public static (X509Certificate2 Cert, ECDsa Key, ulong Serial) CreateRoot(string trustDomain, DateTimeOffset now)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serial = RandomSerial63();
        // A distinct subject per root, so a chain builder never mistakes one root for another.
        var subject = new X500DistinguishedName($"CN=Weft CA Root {serial:x16}, O=Weft");
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        AddCaExtensions(request, trustDomain, request.PublicKey);
        var notBefore = Seconds(now - Backdate);
        var cert = request.Create(subject, X509SignatureGenerator.CreateForECDsa(key), notBefore, Seconds(now + RootTtl), SerialBytes(serial));
        return (cert, key, serial);
    }

    /// <summary>
    /// <paramref name="newRoot"/>'s subject and key, signed by the old signing certificate: a verifier that trusts only
    /// the old root can then reach the new one, so leaves signed by the new root work for it during a rotation.
    /// </summary>
    public static X509Certificate2 CrossSign(X509Certificate2 newRoot, X509Certificate2 oldSigner, AsymmetricAlgorithm oldKey, DateTimeOffset now)
    {
        var request = new CertificateRequest(newRoot.SubjectName, newRoot.PublicKey, HashAlgorithmName.SHA256);
        foreach (var extension in newRoot.Extensions)
        {
            if (extension.Oid?.Value != "2.5.29.35") // the authority key identifier is the new issuer's
                request.CertificateExtensions.Add(extension);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(oldSigner, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var notAfter = Min(newRoot.NotAfter, oldSigner.NotAfter);
        return request.Create(oldSigner.SubjectName, Generator(oldKey), Seconds(now - Backdate), notAfter, RandomSerial());
    }

    public static X509SignatureGenerator Generator(AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => X509SignatureGenerator.CreateForECDsa(ec),
        RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
        _ => throw new NotSupportedException($"signing keys of type {key.GetType().Name} are not supported"),
    };

    /// <summary>Consul's root ID: the certificate's SHA-1 fingerprint, colon-separated hex.</summary>
    public static string Id(X509Certificate2 cert) => ColonHex(cert.GetCertHash());

    /// <summary>The Subject Key Identifier as colon-separated hex (Consul's SigningKeyID), computed when absent.</summary>
    public static string SubjectKeyId(X509Certificate2 cert)
    {
        var ski = cert.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault()
            ?? new X509SubjectKeyIdentifierExtension(cert.PublicKey, false);
        return ColonHex(ski.SubjectKeyIdentifierBytes.Span);
    }

    public static string ColonHex(ReadOnlySpan<byte> bytes) =>
        string.Join(':', bytes.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    public static string Pem(X509Certificate2 cert) => cert.ExportCertificatePem() + "\n";

    public static X509Certificate2 FromPem(string pem) => X509Certificate2.CreateFromPem(pem);

    public static bool IsSelfSigned(X509Certificate2 cert) => cert.SubjectName.RawData.AsSpan().SequenceEqual(cert.IssuerName.RawData);

    /// <summary>The URIs of a subject-alternative-name extension (.NET reads only DNS names and IP addresses).</summary>
    public static List<string> UrisOf(X509Extension san, out int otherNames)
    {
        var uris = new List<string>();
        otherNames = 0;
        var reader = new AsnReader(san.RawData, AsnEncodingRules.DER);
        var names = reader.ReadSequence();
        reader.ThrowIfNotEmpty();
        var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
        while (names.HasData)
        {
            var tag = names.PeekTag();
            if (tag.HasSameClassAndValue(uriTag))
                uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
            else
            {
                names.ReadEncodedValue();
                otherNames++;
            }
        }

        return uris;
    }

    private static void AddCaExtensions(CertificateRequest request, string trustDomain, PublicKey publicKey)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(publicKey, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri($"spiffe://{trustDomain}"));
        request.CertificateExtensions.Add(san.Build());
    }

    private static ulong RandomSerial63()
    {
        Span<byte> bytes = stackalloc byte[8];
        ulong serial;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            serial = BitConverter.ToUInt64(bytes) & long.MaxValue;
        }
        while (serial == 0);
        return serial;
    }

    private static byte[] SerialBytes(ulong serial)
    {
        var bytes = BitConverter.GetBytes(serial);
        if (BitConverter.IsLittleEndian) Array.Reverse(bytes);
        return bytes;
    }

    /// <summary>128 random bits, positive and without a leading zero byte, as RFC 5280 asks of serials.</summary>
    public static byte[] RandomSerial()
    {
        var bytes = RandomNumberGenerator.GetBytes(16);
        bytes[0] = (byte)((bytes[0] & 0x7f) | 0x01);
        return bytes;
    }

    public static DateTimeOffset Seconds(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    private static DateTimeOffset Min(DateTime a, DateTime b) => new(a.ToUniversalTime() < b.ToUniversalTime() ? a.ToUniversalTime() : b.ToUniversalTime());
}
