using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Weft.Core.Identity;

namespace Weft.Proxy.Transport;

/// <summary>The caller's workload identity on the inbound side: the SPIFFE URI SAN of the client certificate it presented over mTLS.</summary>
internal static class PeerIdentity
{
    /// <summary>The caller's SPIFFE id, or null on a connection without a (valid Weft) client certificate.</summary>
    public static SpiffeId? Of(HttpContext http)
    {
        var certificate = http.Connection.ClientCertificate;
        if (certificate is null)
            return null;
        // One certificate object per connection: parse its SAN once, not on every request the connection carries.
        return Parsed.GetValue(certificate, static c => new Box(FromCertificate(c))).Id;
    }

    private sealed record Box(SpiffeId? Id);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<X509Certificate2, Box> Parsed = new();

    public static SpiffeId? FromCertificate(X509Certificate2? certificate)
    {
        if (certificate is null)
            return null;
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAltNameOid)
                continue;
            foreach (var uri in Uris(extension.RawData))
            {
                if (SpiffeId.TryParse(uri, out var id))
                    return id;
            }
        }
        return null;
    }

    private const string SubjectAltNameOid = "2.5.29.17";

    /// <summary>The uniformResourceIdentifier [6] entries of a subjectAltName (RFC 5280 4.2.1.6); malformed data yields none.</summary>
    internal static List<string> Uris(byte[] subjectAltName)
    {
        var uris = new List<string>();
        try
        {
            var reader = new AsnReader(subjectAltName, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
            while (names.HasData)
            {
                var tag = names.PeekTag();
                if (tag.HasSameClassAndValue(uriTag))
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
                else
                    names.ReadEncodedValue();
            }
        }
        catch (AsnContentException)
        {
            return [];
        }
        return uris;
    }
}
