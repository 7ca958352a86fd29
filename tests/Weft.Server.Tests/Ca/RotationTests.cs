using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Ca;

public sealed class RotationTests
{
    private const string Rotate = """{"Provider":"weft","Config":{"RotateRoot":true}}""";

    [Fact]
    public async Task BlockedRootsQuery_WakesOnRotation_WithTheNewActiveRoot()
    {
        await using var server = await RunningServer.StartAsync();
        var (before, index) = await server.GetWithIndexAsync("/v1/connect/ca/roots");
        var oldId = before.GetProperty("ActiveRootID").GetString();

        var blocked = server.GetWithIndexAsync($"/v1/connect/ca/roots?index={index}&wait=60s");
        await server.PutOkAsync("/v1/connect/ca/configuration", Rotate);

        Assert.Same(blocked, await Task.WhenAny(blocked, Task.Delay(TimeSpan.FromSeconds(10))));
        var (after, newIndex) = await blocked;
        Assert.True(newIndex > index, $"index went from {index} to {newIndex}");
        var newId = after.GetProperty("ActiveRootID").GetString();
        Assert.NotEqual(oldId, newId);

        var roots = after.GetProperty("Roots").EnumerateArray().ToDictionary(r => r.GetProperty("ID").GetString()!);
        Assert.Equal(2, roots.Count);
        Assert.False(roots[oldId!].GetProperty("Active").GetBoolean());
        Assert.True(roots[newId!].GetProperty("Active").GetBoolean());
        // The cross-signed certificate: the new root's subject and key, issued by the old root.
        var cross = X509Certificate2.CreateFromPem(Assert.Single(roots[newId!].GetProperty("IntermediateCerts").EnumerateArray()).GetString()!);
        var newRoot = X509Certificate2.CreateFromPem(roots[newId!].GetProperty("RootCert").GetString()!);
        var oldRoot = X509Certificate2.CreateFromPem(roots[oldId!].GetProperty("RootCert").GetString()!);
        Assert.Equal(newRoot.Subject, cross.Subject);
        Assert.Equal(oldRoot.Subject, cross.Issuer);
        Assert.Equal(newRoot.PublicKey.ExportSubjectPublicKeyInfo(), cross.PublicKey.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task AfterRotation_OldAndNewLeavesValidate_AndNewLeavesChainToTheOldRootAlone()
    {
        await using var server = await RunningServer.StartAsync();
        var rootsBefore = await server.GetJsonAsync("/v1/connect/ca/roots");
        var oldLeaf = (await CaTestKit.SignAsync(server, "orders")).GetProperty("CertPEM").GetString()!;

        await server.PutOkAsync("/v1/connect/ca/configuration", Rotate);
        var newLeaf = (await CaTestKit.SignAsync(server, "orders")).GetProperty("CertPEM").GetString()!;
        var published = CaTestKit.RootsOf(await server.GetJsonAsync("/v1/connect/ca/roots"));

        Assert.True(CaTestKit.Validate(oldLeaf, published) is (true, _), CaTestKit.Validate(oldLeaf, published).Why);
        Assert.True(CaTestKit.Validate(newLeaf, published) is (true, _), CaTestKit.Validate(newLeaf, published).Why);
        // A peer that has not yet fetched the new roots still accepts the new leaf, through the cross-signed cert.
        var onlyOld = CaTestKit.RootsOf(rootsBefore);
        Assert.True(CaTestKit.Validate(newLeaf, onlyOld) is (true, _), CaTestKit.Validate(newLeaf, onlyOld).Why);
        // ... and the new leaf is not the old root's own: without the cross-signed cert it would not chain to it.
        var (bare, _) = CaTestKit.Split(newLeaf);
        Assert.False(CaTestKit.Validate(bare.ExportCertificatePem(), onlyOld).Ok);
    }

    [Fact]
    public async Task TwoRotations_ANewestLeafStillChainsToTheFirstRoot_WhileItIsTrusted()
    {
        await using var server = await RunningServer.StartAsync();
        var first = CaTestKit.RootsOf(await server.GetJsonAsync("/v1/connect/ca/roots"));
        await server.PutOkAsync("/v1/connect/ca/configuration", Rotate);
        await server.PutOkAsync("/v1/connect/ca/configuration", Rotate);
        var roots = await server.GetJsonAsync("/v1/connect/ca/roots");
        Assert.Equal(3, roots.GetProperty("Roots").GetArrayLength());

        var leaf = (await CaTestKit.SignAsync(server, "web")).GetProperty("CertPEM").GetString()!;
        Assert.True(CaTestKit.Validate(leaf, first) is (true, _), CaTestKit.Validate(leaf, first).Why);
        Assert.True(CaTestKit.Validate(leaf, CaTestKit.RootsOf(roots)) is (true, _));
    }

    [Fact]
    public async Task RotatedOutRoot_IsPrunedOnlyOnceNoLeafItSignedCanBeValid()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartAsync(time: time, configure: o => o with { LeafTtl = TimeSpan.FromSeconds(10) });
        var oldLeaf = (await CaTestKit.SignAsync(server, "orders")).GetProperty("CertPEM").GetString()!;
        var (leaf, _) = CaTestKit.Split(oldLeaf);
        Assert.Equal(TimeSpan.FromSeconds(70), leaf.NotAfter - leaf.NotBefore);

        await server.PutOkAsync("/v1/connect/ca/configuration", Rotate);
        time.Advance(TimeSpan.FromSeconds(5));
        var published = CaTestKit.RootsOf(await server.GetJsonAsync("/v1/connect/ca/roots"));
        Assert.Equal(2, published.Count);
        Assert.True(CaTestKit.Validate(oldLeaf, published, time.GetUtcNow().UtcDateTime) is (true, _));

        // The old root's last leaf can live 10 s (+ a minute's margin for a signing that raced the rotation).
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(2, (await server.GetJsonAsync("/v1/connect/ca/roots")).GetProperty("Roots").GetArrayLength());

        time.Advance(TimeSpan.FromSeconds(10));
        await RunningServer.WaitUntilAsync(
            async () => (await server.GetJsonAsync("/v1/connect/ca/roots")).GetProperty("Roots").GetArrayLength() == 1,
            "the rotated-out root is pruned");
        var roots = await server.GetJsonAsync("/v1/connect/ca/roots");
        var active = Assert.Single(roots.GetProperty("Roots").EnumerateArray());
        Assert.True(active.GetProperty("Active").GetBoolean());
        // The cross-signed certificate led only to the pruned root: it goes too, and new leaves stop carrying it.
        Assert.Equal(0, active.GetProperty("IntermediateCerts").GetArrayLength());
        var fresh = (await CaTestKit.SignAsync(server, "orders")).GetProperty("CertPEM").GetString()!;
        Assert.Empty(CaTestKit.Split(fresh).Others);
        Assert.True(CaTestKit.Validate(fresh, CaTestKit.RootsOf(roots), time.GetUtcNow().UtcDateTime) is (true, _));
    }

    [Fact]
    public async Task GetThenPutTheSameConfiguration_ChangesNothing()
    {
        await using var server = await RunningServer.StartAsync();
        var (rootsBefore, indexBefore) = await server.GetWithIndexAsync("/v1/connect/ca/roots");
        var config = await server.GetJsonAsync("/v1/connect/ca/configuration");
        await server.PutOkAsync("/v1/connect/ca/configuration", config.GetRawText());
        var (rootsAfter, indexAfter) = await server.GetWithIndexAsync("/v1/connect/ca/roots");
        Assert.Equal(indexBefore, indexAfter);
        Assert.Equal(rootsBefore.GetRawText(), rootsAfter.GetRawText());
    }

    [Theory]
    [InlineData("""{"Provider":"vault","Config":{"RotateRoot":true}}""", "Provider \"vault\" is not supported")]
    [InlineData("""{"Provider":"weft","Config":{"RotateRoot":"yes"}}""", "Config.RotateRoot must be true or false")]
    [InlineData("""{"Provider":"weft","Config":{"LeafCertTTL":"1h"}}""", "--leaf-ttl")]
    [InlineData("""{"Provider":"weft","Config":{"TrustDomain":"other.example"}}""", "--trust-domain")]
    [InlineData("""{"Provider":"weft","Config":{"Rotate":true}}""", "Config.Rotate is not a setting")]
    [InlineData("""{"Provider":"weft","Config":{"PrivateKey":"-----BEGIN PRIVATE KEY-----"}}""", "go together")]
    [InlineData("""{"Provider":"weft","Config":{"PrivateKey":"x","RootCert":"y"}}""", "Config.RootCert: no \"-----BEGIN CERTIFICATE-----\" block")]
    [InlineData("""{"Provider":"weft","Config":[1]}""", "wrong type")]
    [InlineData("""not json""", "Request decode failed")]
    public async Task BadConfiguration_Is400_AndTheRootStays(string body, string message)
    {
        await using var server = await RunningServer.StartAsync();
        var (rootsBefore, indexBefore) = await server.GetWithIndexAsync("/v1/connect/ca/roots");
        using var response = await server.PutAsync("/v1/connect/ca/configuration", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        Assert.Contains(message, text);
        var (rootsAfter, indexAfter) = await server.GetWithIndexAsync("/v1/connect/ca/roots");
        Assert.Equal(indexBefore, indexAfter);
        Assert.Equal(rootsBefore.GetRawText(), rootsAfter.GetRawText());
    }

    [Fact]
    public async Task ForceWithoutCrossSigning_RotatesWithoutACrossSignedCert()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/connect/ca/configuration", """{"Provider":"weft","Config":{"RotateRoot":true},"ForceWithoutCrossSigning":true}""");
        var roots = await server.GetJsonAsync("/v1/connect/ca/roots");
        var active = roots.GetProperty("Roots").EnumerateArray().Single(r => r.GetProperty("Active").GetBoolean());
        Assert.Equal(0, active.GetProperty("IntermediateCerts").GetArrayLength());
        Assert.Equal(2, roots.GetProperty("Roots").GetArrayLength());
    }
}
