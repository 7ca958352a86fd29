using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Weft.Server.Ca;

/// <summary>
/// Signs workload certificates for one CA certificate and key, on the issuance path. Everything about the issuer is
/// prepared once (its name, authority key identifier, signature algorithm, the extensions every leaf carries), and the
/// leaf is written as DER and signed directly: <c>CertificateRequest.Create</c>
/// also loads the result into an <see cref="X509Certificate2"/>, and on OpenSSL 3 decoding a certificate (its public
/// key) costs several times the ECDSA signature itself. Several threads sign at once, each with its own key handle
/// imported from the same key: .NET does not promise a key object is safe to share across threads.
/// </summary>
internal sealed class LeafSigner
{
    private static readonly X509Extension[] CommonExtensions =
    [
        new X509BasicConstraintsExtension(false, false, 0, true),
        new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true),
        new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "serverAuth"), new Oid("1.3.6.1.5.5.7.3.2", "clientAuth")], false),
    ];

    private static readonly Asn1Tag Version = new(TagClass.ContextSpecific, 0, isConstructed: true);
    private static readonly Asn1Tag Extensions = new(TagClass.ContextSpecific, 3, isConstructed: true);

    private readonly byte[] _issuerName;
    private readonly X509Extension _authorityKeyId;
    private readonly byte[] _algorithm;
    private readonly Slot[] _slots;

    /// <param name="keys">Handles on the same key, one per thread that may sign at once; at least one.</param>
    public LeafSigner(X509Certificate2 issuer, IReadOnlyList<AsymmetricAlgorithm> keys)
    {
        if (keys.Count == 0) throw new ArgumentException("at least one key handle", nameof(keys));
        _issuerName = issuer.SubjectName.RawData;
        _authorityKeyId = X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false);
        _slots = [.. keys.Select(k => new Slot(CaCertificates.Generator(k)))];
        _algorithm = _slots[0].Generator.GetSignatureAlgorithmIdentifier(HashAlgorithmName.SHA256);
    }

    /// <summary>
    /// A leaf for <paramref name="uri"/> on <paramref name="publicKey"/>: CN=<paramref name="service"/> (as Consul's
    /// leaves; X.520 caps a common name at 64 characters, so a longer name goes without one and the SAN is then critical,
    /// RFC 5280), not a CA, digital signature and key agreement, server and client auth, the one URI SAN, subject and
    /// authority key identifiers. Returns the certificate's DER and its serial number.
    /// </summary>
    public (byte[] Der, byte[] Serial) Sign(PublicKey publicKey, Uri uri, string service, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var subject = new X500DistinguishedNameBuilder();
        if (service.Length <= 64) subject.AddCommonName(service);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(uri);
        var serial = CaCertificates.RandomSerial();

        var tbs = new AsnWriter(AsnEncodingRules.DER);
        using (tbs.PushSequence())
        {
            using (tbs.PushSequence(Version))
                tbs.WriteInteger(2); // v3
            tbs.WriteInteger(serial);
            tbs.WriteEncodedValue(_algorithm);
            tbs.WriteEncodedValue(_issuerName);
            using (tbs.PushSequence())
            {
                WriteTime(tbs, notBefore);
                WriteTime(tbs, notAfter);
            }

            tbs.WriteEncodedValue(subject.Build().RawData);
            tbs.WriteEncodedValue(publicKey.ExportSubjectPublicKeyInfo());
            using (tbs.PushSequence(Extensions))
            using (tbs.PushSequence())
            {
                foreach (var extension in CommonExtensions)
                    WriteExtension(tbs, extension);
                WriteExtension(tbs, san.Build(critical: service.Length > 64));
                WriteExtension(tbs, new X509SubjectKeyIdentifierExtension(publicKey, false));
                WriteExtension(tbs, _authorityKeyId);
            }
        }

        var toSign = tbs.Encode();
        var signature = SignWithFreeSlot(toSign);
        var cert = new AsnWriter(AsnEncodingRules.DER);
        using (cert.PushSequence())
        {
            cert.WriteEncodedValue(toSign);
            cert.WriteEncodedValue(_algorithm);
            cert.WriteBitString(signature);
        }

        return (cert.Encode(), serial);
    }

    private byte[] SignWithFreeSlot(byte[] data)
    {
        // Start at a different slot per thread so concurrent signers rarely meet; wait only when every handle is busy.
        var start = (int)((uint)Environment.CurrentManagedThreadId % (uint)_slots.Length);
        for (var i = 0; i < _slots.Length; i++)
        {
            var slot = _slots[(start + i) % _slots.Length];
            if (!slot.Gate.TryEnter()) continue;
            try
            {
                return slot.Generator.SignData(data, HashAlgorithmName.SHA256);
            }
            finally
            {
                slot.Gate.Exit();
            }
        }

        var waited = _slots[start];
        lock (waited.Gate)
            return waited.Generator.SignData(data, HashAlgorithmName.SHA256);
    }

    // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    private static void WriteTime(AsnWriter writer, DateTimeOffset time)
    {
        if (time.UtcDateTime.Year < 2050)
            writer.WriteUtcTime(time);
        else
            writer.WriteGeneralizedTime(time, omitFractionalSeconds: true);
    }

    private static void WriteExtension(AsnWriter writer, X509Extension extension)
    {
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(extension.Oid!.Value!);
            if (extension.Critical) writer.WriteBoolean(true);
            writer.WriteOctetString(extension.RawData);
        }
    }

    private sealed class Slot(X509SignatureGenerator generator)
    {
        public X509SignatureGenerator Generator { get; } = generator;
        public Lock Gate { get; } = new();
    }
}
