using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Ca;

public sealed class BadCsrTests
{
    private const string Orders = "spiffe://weft.local/ns/default/svc/orders";

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>
        {
            { "empty body", "", "body is empty" },
            { "no CSR field", """{"Csr2":"x"}""", "CSR is required" },
            { "CSR of the wrong type", """{"CSR":42}""", "wrong type" },
            { "not PEM", CaTestKit.SignBody("hello"), "not a PEM certificate request" },
            { "PEM with garbage inside", CaTestKit.SignBody("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), "CSR is malformed" },
            { "a certificate, not a request", CaTestKit.SignBody(SelfSigned()), "not a PEM certificate request" },
            { "RSA key", CaTestKit.SignBody(RsaCsr()), "must be ECDSA P-256, not RSA" },
            { "P-384 key", CaTestKit.SignBody(CaTestKit.Csr(Orders, ECDsa.Create(ECCurve.NamedCurves.nistP384))), "must be ECDSA P-256, not ECDSA on curve P-384" },
            { "bad signature", CaTestKit.SignBody(Tampered(CaTestKit.Csr(Orders))), "signature is not valid" },
            { "other trust domain", CaTestKit.SignBody(CaTestKit.Csr("spiffe://evil.example/ns/default/svc/orders")), "trust domain \"evil.example\"" },
            { "other namespace", CaTestKit.SignBody(CaTestKit.Csr("spiffe://weft.local/ns/prod/svc/orders")), "namespace \"prod\"" },
            { "not a SPIFFE service ID", CaTestKit.SignBody(CaTestKit.Csr("https://orders.example/")), "is not a SPIFFE service ID" },
            { "SPIFFE ID of another shape", CaTestKit.SignBody(CaTestKit.Csr("spiffe://weft.local/orders")), "is not a SPIFFE service ID" },
            { "no SAN", CaTestKit.SignBody(NoSanCsr()), "no subject alternative name" },
            { "two URI SANs", CaTestKit.SignBody(TwoUris()), "exactly one URI SAN, it has 2" },
            { "a DNS name beside the URI", CaTestKit.SignBody(WithDns()), "DNS names" },
            { "oversized CSR", CaTestKit.SignBody("-----BEGIN CERTIFICATE REQUEST-----\n" + new string('A', 20_000) + "\n-----END CERTIFICATE REQUEST-----\n"), "too large" },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadCsr_Is400WithAMessageNamingTheProblem_AndNothingIsStored(string what, string body, string message)
    {
        await using var server = await RunningServer.StartAsync();
        var (rootsBefore, indexBefore) = await server.GetWithIndexAsync("/v1/connect/ca/roots");
        var catalogBefore = await server.CatalogSnapshotAsync();

        using var response = await server.PutAsync("/v1/connect/ca/sign", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)response.StatusCode} {text}");
        Assert.Contains(message, text);
        Assert.DoesNotContain("\n", text.TrimEnd());

        var (rootsAfter, indexAfter) = await server.GetWithIndexAsync("/v1/connect/ca/roots");
        Assert.Equal(indexBefore, indexAfter);
        Assert.Equal(rootsBefore.GetRawText(), rootsAfter.GetRawText());
        Assert.Equal(catalogBefore, await server.CatalogSnapshotAsync());
        // And the server keeps serving: a good request right after succeeds.
        await CaTestKit.SignAsync(server, "orders");
    }

    [Fact]
    public async Task WithoutToken_SignIsRefused()
    {
        await using var server = await RunningServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Server.HttpAddress };
        using var response = await anonymous.PutAsync("/v1/connect/ca/sign", new StringContent(CaTestKit.SignBody(CaTestKit.Csr(Orders))));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Permission denied", await response.Content.ReadAsStringAsync());
    }

    private static string SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        return cert.ExportCertificatePem();
    }

    private static string RsaCsr()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=x", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(Orders));
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSigningRequestPem();
    }

    private static string NoSanCsr()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest("CN=orders", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
    }

    private static string TwoUris()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(Orders));
        san.AddUri(new Uri("spiffe://weft.local/ns/default/svc/payments"));
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSigningRequestPem();
    }

    private static string WithDns()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(Orders));
        san.AddDnsName("orders.example");
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSigningRequestPem();
    }

    /// <summary>A well-formed request whose signature no longer matches: its last signature byte flipped.</summary>
    private static string Tampered(string pem)
    {
        var der = PemEncoding.Find(pem) is var fields ? Convert.FromBase64String(pem[fields.Base64Data]) : [];
        der[^1] ^= 0x01;
        return PemEncoding.WriteString("CERTIFICATE REQUEST", der);
    }
}
