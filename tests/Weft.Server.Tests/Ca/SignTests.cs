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

    [Fact]
    public async Task ConcurrentSigns_EachLeafValidatesAgainstTheRoot_OnItsOwnKey_ForItsOwnService()
    {
        await using var server = await RunningServer.StartAsync();
        var roots = CaTestKit.RootsOf(await server.GetJsonAsync("/v1/connect/ca/roots"));
        const int workers = 16, each = 8;

        var issued = await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var mine = new List<(string Service, ECDsa Key, string CertPem, string Serial)>();
            for (var i = 0; i < each; i++)
            {
                var service = $"svc-{w}-{i}";
                var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var body = await CaTestKit.SignAsync(server, service, key);
                mine.Add((service, key, body.GetProperty("CertPEM").GetString()!, body.GetProperty("SerialNumber").GetString()!));
            }

            return mine;
        })));

        var all = issued.SelectMany(x => x).ToList();
        Assert.Equal(workers * each, all.Count);
        Assert.Equal(all.Count, all.Select(x => x.Serial).Distinct().Count());
        foreach (var (service, key, certPem, serial) in all)
        {
            var (ok, why) = CaTestKit.Validate(certPem, roots);
            Assert.True(ok, $"{service}: {why}");
            var (leaf, _) = CaTestKit.Split(certPem);
            Assert.Equal([$"spiffe://weft.local/ns/default/svc/{service}"], CaTestKit.Uris(leaf));
            Assert.Equal(key.ExportSubjectPublicKeyInfo(), leaf.PublicKey.ExportSubjectPublicKeyInfo());
            Assert.Equal($"CN={service}", leaf.Subject);
            Assert.Equal(serial, string.Join(':', leaf.SerialNumberBytes.ToArray().Select(b => b.ToString("x2"))));
        }
    }

    [Fact]
    public async Task ServiceNameLongerThanACommonName_LeafHasNoSubject_AndACriticalSan()
    {
        await using var server = await RunningServer.StartAsync();
        var service = new string('s', 70);

        var issued = await CaTestKit.SignAsync(server, service);

        var certPem = issued.GetProperty("CertPEM").GetString()!;
        var (ok, why) = CaTestKit.Validate(certPem, CaTestKit.RootsOf(await server.GetJsonAsync("/v1/connect/ca/roots")));
        Assert.True(ok, why);
        var (leaf, _) = CaTestKit.Split(certPem);
        Assert.Equal("", leaf.Subject);
        Assert.True(leaf.Extensions["2.5.29.17"]!.Critical);
        Assert.Equal([$"spiffe://weft.local/ns/default/svc/{service}"], CaTestKit.Uris(leaf));
    }
}
