using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Ca;

/// <summary>What a sidecar does against the CA: make a key and a CSR, ask for a certificate, check it as a peer would.</summary>
internal static class CaTestKit
{
    public static string Csr(string uri, ECDsa? key = null, Action<CertificateRequest>? tweak = null)
    {
        key ??= ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=sidecar", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(uri));
        request.CertificateExtensions.Add(san.Build());
        tweak?.Invoke(request);
        return request.CreateSigningRequestPem();
    }

    public static string SignBody(string csrPem) => JsonSerializer.Serialize(new Dictionary<string, string> { ["CSR"] = csrPem });

    public static async Task<JsonElement> SignAsync(RunningServer server, string service, ECDsa? key = null)
    {
        using var response = await server.PutAsync("/v1/connect/ca/sign", SignBody(Csr($"spiffe://weft.local/ns/default/svc/{service}", key)));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"sign gave {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The leaf (first) and the rest of a CertPEM bundle.</summary>
    public static (X509Certificate2 Leaf, X509Certificate2Collection Others) Split(string certPem)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPem(certPem);
        var rest = new X509Certificate2Collection();
        for (var i = 1; i < all.Count; i++) rest.Add(all[i]);
        return (all[0], rest);
    }

    public static X509Certificate2Collection RootsOf(JsonElement roots)
    {
        var set = new X509Certificate2Collection();
        foreach (var root in roots.GetProperty("Roots").EnumerateArray())
            set.Add(X509Certificate2.CreateFromPem(root.GetProperty("RootCert").GetString()!));
        return set;
    }

    /// <summary>Builds the chain as a verifier trusting only <paramref name="trusted"/> would; the failure reasons when it cannot.</summary>
    public static (bool Ok, string Why) Validate(string certPem, X509Certificate2Collection trusted, DateTime? at = null)
    {
        var (leaf, rest) = Split(certPem);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.ExtraStore.AddRange(rest);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = at ?? DateTime.Now;
        var ok = chain.Build(leaf);
        return (ok, string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation.Trim()}")));
    }

    /// <summary>The URI SANs of a certificate, read from its extension's DER.</summary>
    public static List<string> Uris(X509Certificate2 cert)
    {
        var san = cert.Extensions["2.5.29.17"]!;
        var reader = new System.Formats.Asn1.AsnReader(san.RawData, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        var uris = new List<string>();
        var uriTag = new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 6);
        while (reader.HasData)
        {
            if (reader.PeekTag().HasSameClassAndValue(uriTag))
                uris.Add(reader.ReadCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, uriTag));
            else
                uris.Add("other:" + Convert.ToHexString(reader.ReadEncodedValue().Span));
        }

        return uris;
    }
}

/// <summary>An operator's own CA, made the way an operator's tooling would: a root, optionally an intermediate under it.</summary>
internal sealed class OperatorCaFiles : IDisposable
{
    private OperatorCaFiles(string dir, X509Certificate2 root, X509Certificate2 signer, string certFile, string keyFile)
    {
        Dir = dir;
        Root = root;
        Signer = signer;
        CertFile = certFile;
        KeyFile = keyFile;
    }

    public string Dir { get; }
    public X509Certificate2 Root { get; }
    public X509Certificate2 Signer { get; }
    public string CertFile { get; }
    public string KeyFile { get; }
    public string CertPem => File.ReadAllText(CertFile);
    public string KeyPem => File.ReadAllText(KeyFile);

    public string RootId => string.Join(':', Root.GetCertHash().Select(b => b.ToString("x2")));

    public static OperatorCaFiles Create(bool intermediate = false, string name = "Acme")
    {
        var now = DateTimeOffset.UtcNow;
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest($"CN={name} Root CA", rootKey, HashAlgorithmName.SHA256);
        AddCa(rootRequest);
        var root = rootRequest.CreateSelfSigned(now.AddDays(-1), now.AddYears(5));
        var signer = root;
        var signerKey = rootKey;
        ECDsa? intermediateKey = null;
        if (intermediate)
        {
            intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={name} Mesh Intermediate", intermediateKey, HashAlgorithmName.SHA256);
            AddCa(request);
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
            signer = request.Create(root, now.AddDays(-1), now.AddYears(2), RandomNumberGenerator.GetBytes(12));
            signerKey = intermediateKey;
        }

        var dir = Directory.CreateTempSubdirectory("weft-opca-").FullName;
        var certFile = Path.Combine(dir, "ca.pem");
        var keyFile = Path.Combine(dir, "ca.key");
        File.WriteAllText(certFile, intermediate ? signer.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n" : root.ExportCertificatePem() + "\n");
        File.WriteAllText(keyFile, signerKey.ExportPkcs8PrivateKeyPem());
        intermediateKey?.Dispose();
        return new OperatorCaFiles(dir, root, signer, certFile, keyFile);
    }

    private static void AddCa(CertificateRequest request)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
