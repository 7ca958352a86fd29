using System.Text.Json;
using Weft.Server.Ca;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Ca;

public sealed class OperatorCaTests
{
    [Fact]
    public async Task OperatorRoot_IsTheActiveRoot_AndSignsLeaves()
    {
        using var ca = OperatorCaFiles.Create();
        await using var server = await RunningServer.StartAsync(configure: o => o with { CaCertFile = ca.CertFile, CaKeyFile = ca.KeyFile });
        var roots = await server.GetJsonAsync("/v1/connect/ca/roots");
        Assert.Equal(ca.RootId, roots.GetProperty("ActiveRootID").GetString());
        Assert.Equal("operator", (await server.GetJsonAsync("/v1/connect/ca/configuration")).GetProperty("Config").GetProperty("RootSource").GetString());

        var leaf = (await CaTestKit.SignAsync(server, "web")).GetProperty("CertPEM").GetString()!;
        var (ok, why) = CaTestKit.Validate(leaf, [ca.Root]);
        Assert.True(ok, why);
    }

    [Fact]
    public async Task OperatorIntermediate_SignsLeaves_AndTheirChainCarriesIt()
    {
        using var ca = OperatorCaFiles.Create(intermediate: true);
        await using var server = await RunningServer.StartAsync(configure: o => o with { CaCertFile = ca.CertFile, CaKeyFile = ca.KeyFile });
        var roots = await server.GetJsonAsync("/v1/connect/ca/roots");
        var root = Assert.Single(roots.GetProperty("Roots").EnumerateArray());
        Assert.Equal(ca.RootId, root.GetProperty("ID").GetString());
        var intermediate = Assert.Single(root.GetProperty("IntermediateCerts").EnumerateArray()).GetString()!;
        Assert.Equal(ca.Signer.Thumbprint, System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(intermediate).Thumbprint);

        var leafPem = (await CaTestKit.SignAsync(server, "web")).GetProperty("CertPEM").GetString()!;
        var (leaf, others) = CaTestKit.Split(leafPem);
        Assert.Equal(ca.Signer.Subject, leaf.Issuer);
        Assert.Equal(ca.Signer.Thumbprint, Assert.Single(others).Thumbprint);
        Assert.True(CaTestKit.Validate(leafPem, [ca.Root]) is (true, _), CaTestKit.Validate(leafPem, [ca.Root]).Why);
    }

    [Fact]
    public async Task NewOperatorCaOnRestart_IsARotation_CrossSignedByTheGeneratedRoot()
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-ca-").FullName;
        using var ca = OperatorCaFiles.Create();
        try
        {
            JsonElement generated;
            string oldLeaf;
            await using (var first = await RunningServer.StartAsync(dataDir))
            {
                generated = await first.GetJsonAsync("/v1/connect/ca/roots");
                oldLeaf = (await CaTestKit.SignAsync(first, "orders")).GetProperty("CertPEM").GetString()!;
            }

            await using var second = await RunningServer.StartAsync(dataDir, configure: o => o with { CaCertFile = ca.CertFile, CaKeyFile = ca.KeyFile });
            var roots = await second.GetJsonAsync("/v1/connect/ca/roots");
            Assert.Equal(ca.RootId, roots.GetProperty("ActiveRootID").GetString());
            Assert.Equal(2, roots.GetProperty("Roots").GetArrayLength());

            var newLeaf = (await CaTestKit.SignAsync(second, "orders")).GetProperty("CertPEM").GetString()!;
            Assert.True(CaTestKit.Validate(newLeaf, [ca.Root]) is (true, _));
            Assert.True(CaTestKit.Validate(oldLeaf, CaTestKit.RootsOf(roots)) is (true, _));
            var onlyGenerated = CaTestKit.RootsOf(generated);
            Assert.True(CaTestKit.Validate(newLeaf, onlyGenerated) is (true, _), CaTestKit.Validate(newLeaf, onlyGenerated).Why);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task SameOperatorCaOnRestart_AfterRotatingAwayFromIt_IsNotMadeActiveAgain()
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-ca-").FullName;
        using var ca = OperatorCaFiles.Create();
        try
        {
            string rotatedTo;
            await using (var first = await RunningServer.StartAsync(dataDir, configure: o => o with { CaCertFile = ca.CertFile, CaKeyFile = ca.KeyFile }))
            {
                await first.PutOkAsync("/v1/connect/ca/configuration", """{"Provider":"weft","Config":{"RotateRoot":true}}""");
                rotatedTo = (await first.GetJsonAsync("/v1/connect/ca/roots")).GetProperty("ActiveRootID").GetString()!;
            }

            // The unit file still says --ca-cert; the operator's later rotation wins.
            await using var second = await RunningServer.StartAsync(dataDir, configure: o => o with { CaCertFile = ca.CertFile, CaKeyFile = ca.KeyFile });
            Assert.Equal(rotatedTo, (await second.GetJsonAsync("/v1/connect/ca/roots")).GetProperty("ActiveRootID").GetString());
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task OperatorCaThroughTheApi_RotatesToIt()
    {
        using var ca = OperatorCaFiles.Create(intermediate: true);
        await using var server = await RunningServer.StartAsync();
        var body = JsonSerializer.Serialize(new { Provider = "weft", Config = new { PrivateKey = ca.KeyPem, RootCert = ca.CertPem } });
        await server.PutOkAsync("/v1/connect/ca/configuration", body);
        Assert.Equal(ca.RootId, (await server.GetJsonAsync("/v1/connect/ca/roots")).GetProperty("ActiveRootID").GetString());
        var leaf = (await CaTestKit.SignAsync(server, "web")).GetProperty("CertPEM").GetString()!;
        Assert.True(CaTestKit.Validate(leaf, [ca.Root]) is (true, _));
    }

    [Fact]
    public async Task UnusableOperatorFiles_StopTheStart_WithAMessageNamingTheFile()
    {
        using var ca = OperatorCaFiles.Create();
        using var other = OperatorCaFiles.Create(name: "Other");
        using var chainless = OperatorCaFiles.Create(intermediate: true);
        File.WriteAllText(chainless.CertFile, chainless.Signer.ExportCertificatePem());
        var notACa = Path.Combine(ca.Dir, "leaf.pem");
        using (var key = System.Security.Cryptography.ECDsa.Create())
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=leaf", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(notACa, cert.ExportCertificatePem());
            File.WriteAllText(notACa + ".key", key.ExportPkcs8PrivateKeyPem());
        }

        await Refused(ca.CertFile, Path.Combine(ca.Dir, "missing.key"), "cannot read --ca-key");
        await Refused(ca.CertFile, other.KeyFile, "is not the key of the first certificate");
        await Refused(ca.KeyFile, ca.KeyFile, "no \"-----BEGIN CERTIFICATE-----\" block");
        await Refused(ca.CertFile, ca.CertFile, "no PEM private key found");
        await Refused(chainless.CertFile, chainless.KeyFile, "is not a self-signed root");
        await Refused(notACa, notACa + ".key", "is not a CA certificate");
    }

    private static async Task Refused(string cert, string key, string message)
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-ca-").FullName;
        try
        {
            var e = await Assert.ThrowsAsync<CaConfigException>(() => RunningServer.StartAsync(dataDir, configure: o => o with { CaCertFile = cert, CaKeyFile = key }));
            Assert.Contains(message, e.Message);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
