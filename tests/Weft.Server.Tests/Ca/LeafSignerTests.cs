using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Weft.Server.Ca;

namespace Weft.Server.Tests.Ca;

/// <summary>The leaf signer on its own: many threads on few key handles, and an operator's RSA CA.</summary>
public sealed class LeafSignerTests
{
    private static (X509Certificate2 Root, AsymmetricAlgorithm Key) Root(bool rsa)
    {
        AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = rsa
            ? new CertificateRequest("CN=Operator RSA Root", (RSA)key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=Test Root", (ECDsa)key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return (request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30)), key);
    }

    private static AsymmetricAlgorithm SameKey(AsymmetricAlgorithm key)
    {
        var pem = key.ExportPkcs8PrivateKeyPem();
        AsymmetricAlgorithm copy = key is RSA ? RSA.Create() : ECDsa.Create();
        copy.ImportFromPem(pem);
        return copy;
    }

    private static void AssertValidLeaf(byte[] der, X509Certificate2 root, string service, ECDsa subjectKey, DateTimeOffset notAfter)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(der);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(leaf), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
        Assert.Equal([$"spiffe://weft.test/ns/default/svc/{service}"], CaTestKit.Uris(leaf));
        Assert.Equal(subjectKey.ExportSubjectPublicKeyInfo(), leaf.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(notAfter, new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
    }

    [Fact]
    public async Task SixteenThreadsOnTwoKeyHandles_EveryLeafValidatesAgainstTheRoot()
    {
        var (root, key) = Root(rsa: false);
        var signer = new LeafSigner(root, [key, SameKey(key)]);
        var now = CaCertificates.Seconds(DateTimeOffset.UtcNow);
        var subjects = Enumerable.Range(0, 16 * 20).Select(_ => ECDsa.Create(ECCurve.NamedCurves.nistP256)).ToArray();

        var signed = await Task.WhenAll(Enumerable.Range(0, 16).Select(t => Task.Run(() =>
            Enumerable.Range(t * 20, 20).Select(i =>
            {
                var publicKey = new PublicKey(subjects[i]);
                return (Index: i, Leaf: signer.Sign(publicKey, new Uri($"spiffe://weft.test/ns/default/svc/s{i}"), $"s{i}", now.AddMinutes(-1), now.AddHours(1)));
            }).ToList())));

        var all = signed.SelectMany(x => x).ToList();
        Assert.Equal(subjects.Length, all.Select(x => Convert.ToHexString(x.Leaf.Serial)).Distinct().Count());
        foreach (var (index, (der, _)) in all)
            AssertValidLeaf(der, root, $"s{index}", subjects[index], now.AddHours(1));
    }

    [Fact]
    public void OperatorRsaCa_SignsALeafThatValidates()
    {
        var (root, key) = Root(rsa: true);
        var signer = new LeafSigner(root, [key]);
        var now = CaCertificates.Seconds(DateTimeOffset.UtcNow);
        using var subject = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var (der, _) = signer.Sign(new PublicKey(subject), new Uri("spiffe://weft.test/ns/default/svc/orders"), "orders", now.AddMinutes(-1), now.AddHours(1));

        AssertValidLeaf(der, root, "orders", subject, now.AddHours(1));
    }
}
