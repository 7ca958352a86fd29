using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Ca;

public sealed class SignTests
{
    [Fact]
    public async Task SignedLeaf_ValidatesAgainstTheRoots_WithTheSpiffeSanAndTheLeafTtl()
    {
        await using var server = await RunningServer.StartAsync();
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var issued = await CaTestKit.SignAsync(server, "orders", key);
        var roots = await server.GetJsonAsync("/v1/connect/ca/roots");

        var certPem = issued.GetProperty("CertPEM").GetString()!;
        var (ok, why) = CaTestKit.Validate(certPem, CaTestKit.RootsOf(roots));
        Assert.True(ok, why);

        var (leaf, _) = CaTestKit.Split(certPem);
        Assert.Equal(["spiffe://weft.local/ns/default/svc/orders"], CaTestKit.Uris(leaf));
        Assert.Equal("orders", issued.GetProperty("Service").GetString());
        Assert.Equal("spiffe://weft.local/ns/default/svc/orders", issued.GetProperty("ServiceURI").GetString());
        // The sidecar's own key: the server never saw a private key.
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), leaf.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.False(issued.TryGetProperty("PrivateKeyPEM", out _));

        // Default --leaf-ttl 24h, backdated one minute.
        Assert.Equal(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1), leaf.NotAfter - leaf.NotBefore);
        Assert.Equal(leaf.NotAfter.ToUniversalTime(), issued.GetProperty("ValidBefore").GetDateTime().ToUniversalTime());
        Assert.Equal(leaf.NotBefore.ToUniversalTime(), issued.GetProperty("ValidAfter").GetDateTime().ToUniversalTime());
        Assert.Equal(leaf.SerialNumberBytes.ToArray().Select(b => b.ToString("x2")).Aggregate((a, b) => a + ":" + b), issued.GetProperty("SerialNumber").GetString());

        var usage = leaf.Extensions.OfType<X509KeyUsageExtension>().Single();
        Assert.Equal(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, usage.KeyUsages);
        var eku = leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value).ToHashSet();
        Assert.Equal(new HashSet<string?> { "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2" }, eku);
        Assert.False(leaf.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.NotNull(leaf.Extensions.OfType<X509SubjectKeyIdentifierExtension>().SingleOrDefault());
        Assert.NotNull(leaf.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().SingleOrDefault());
    }
}
