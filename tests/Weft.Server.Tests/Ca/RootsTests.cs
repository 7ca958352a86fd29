using System.Security.Cryptography.X509Certificates;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Ca;

public sealed class RootsTests
{
    [Fact]
    public async Task Roots_HaveConsulsShape_WithOneActiveGeneratedP256Root()
    {
        await using var server = await RunningServer.StartAsync();
        var (roots, index) = await server.GetWithIndexAsync("/v1/connect/ca/roots");

        Assert.True(index > 0);
        Assert.Equal("weft.local", roots.GetProperty("TrustDomain").GetString());
        var root = Assert.Single(roots.GetProperty("Roots").EnumerateArray());
        Assert.Equal(roots.GetProperty("ActiveRootID").GetString(), root.GetProperty("ID").GetString());
        foreach (var field in new[] { "ID", "Name", "SerialNumber", "SigningKeyID", "ExternalTrustDomain", "NotBefore", "NotAfter", "RootCert", "IntermediateCerts", "Active", "PrivateKeyType", "PrivateKeyBits", "CreateIndex", "ModifyIndex" })
            Assert.True(root.TryGetProperty(field, out _), $"root has no {field}: {root}");
        Assert.True(root.GetProperty("Active").GetBoolean());
        Assert.Equal("ec", root.GetProperty("PrivateKeyType").GetString());
        Assert.Equal(256, root.GetProperty("PrivateKeyBits").GetInt32());
        Assert.Equal(0, root.GetProperty("IntermediateCerts").GetArrayLength());
        Assert.False(root.TryGetProperty("SigningKey", out _), "the roots endpoint must not carry key material");
        Assert.DoesNotContain("PRIVATE KEY", roots.GetRawText());

        using var cert = X509Certificate2.CreateFromPem(root.GetProperty("RootCert").GetString()!);
        // Consul's ID: the SHA-1 fingerprint, colon-separated hex.
        Assert.Equal(string.Join(':', cert.GetCertHash().Select(b => b.ToString("x2"))), root.GetProperty("ID").GetString());
        Assert.Equal("1.2.840.10045.2.1", cert.PublicKey.Oid.Value);
        Assert.Equal(256, cert.GetECDsaPublicKey()!.KeySize);
        Assert.True(cert.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal(cert.NotAfter.ToUniversalTime(), root.GetProperty("NotAfter").GetDateTime().ToUniversalTime());
        Assert.EndsWith("Z", root.GetProperty("NotAfter").GetString());
    }

    [Fact]
    public async Task RootsAsPem_IsTheBundleOfRootCertificates()
    {
        await using var server = await RunningServer.StartAsync();
        var roots = await server.GetJsonAsync("/v1/connect/ca/roots");
        using var response = await server.Http.GetAsync("/v1/connect/ca/roots?pem=true");
        Assert.Equal("application/pem-certificate-chain", response.Content.Headers.ContentType!.MediaType);
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPem(await response.Content.ReadAsStringAsync());
        Assert.Equal(CaTestKit.RootsOf(roots).Select(c => c.Thumbprint), bundle.Select(c => c.Thumbprint));

        using var bad = await server.Http.GetAsync("/v1/connect/ca/roots?pem=maybe");
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains("pem", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Configuration_HasConsulsShape_WithTheServersSettings()
    {
        await using var server = await RunningServer.StartAsync(configure: o => o with { TrustDomain = "prod.example", LeafTtl = TimeSpan.FromHours(2) });
        var config = await server.GetJsonAsync("/v1/connect/ca/configuration");
        Assert.Equal("weft", config.GetProperty("Provider").GetString());
        var inner = config.GetProperty("Config");
        Assert.Equal("2h0m0s", inner.GetProperty("LeafCertTTL").GetString());
        Assert.Equal("ec", inner.GetProperty("PrivateKeyType").GetString());
        Assert.Equal(256, inner.GetProperty("PrivateKeyBits").GetInt32());
        Assert.Equal("87600h0m0s", inner.GetProperty("RootCertTTL").GetString());
        Assert.Equal("prod.example", inner.GetProperty("TrustDomain").GetString());
        Assert.False(config.GetProperty("ForceWithoutCrossSigning").GetBoolean());
        Assert.True(config.GetProperty("ModifyIndex").GetUInt64() > 0);
        Assert.Equal("prod.example", (await server.GetJsonAsync("/v1/connect/ca/roots")).GetProperty("TrustDomain").GetString());
    }

    [Fact]
    public async Task Root_SurvivesARestart_SameIdAndSameKey()
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-ca-").FullName;
        try
        {
            string rootsBefore;
            string activeBefore;
            await using (var first = await RunningServer.StartAsync(dataDir))
            {
                var roots = await first.GetJsonAsync("/v1/connect/ca/roots");
                rootsBefore = roots.GetRawText();
                activeBefore = roots.GetProperty("ActiveRootID").GetString()!;
            }

            await using var second = await RunningServer.StartAsync(dataDir);
            var after = await second.GetJsonAsync("/v1/connect/ca/roots");
            Assert.Equal(activeBefore, after.GetProperty("ActiveRootID").GetString());

            // Signed after the restart, valid against the roots published before it: the same key signs.
            var issued = await CaTestKit.SignAsync(second, "web");
            var trusted = CaTestKit.RootsOf(System.Text.Json.JsonDocument.Parse(rootsBefore).RootElement);
            var (ok, why) = CaTestKit.Validate(issued.GetProperty("CertPEM").GetString()!, trusted);
            Assert.True(ok, why);

            // The store holds the CA key: readable by its owner only.
            var mode = File.GetUnixFileMode(Path.Combine(dataDir, "weft.db"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task ExistingStoreReadableByOthers_IsNarrowedToOwnerOnly()
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-ca-").FullName;
        try
        {
            await using (await RunningServer.StartAsync(dataDir))
            {
            }

            var db = Path.Combine(dataDir, "weft.db");
            File.SetUnixFileMode(db, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            await using (await RunningServer.StartAsync(dataDir))
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(db));
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
