using System.Net;
using System.Security.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Security;
using Weft.Proxy.Tests.Support;
using Weft.Tests.Shared;

namespace Weft.Proxy.Tests.Security;

/// <summary>The inbound listener with a workload identity: only mTLS from the mesh CA's trust domain gets to the app.</summary>
public sealed class InboundMutualTlsTests : IDisposable
{
    private readonly TestCa _ca = new();
    private int _hits;

    public void Dispose() => _ca.Dispose();

    private async Task<(Backend App, Proxy.Hosting.ProxyHost Sidecar)> OrdersAsync()
    {
        var app = await Backend.StartAsync(a => a.Run(c =>
        {
            Interlocked.Increment(ref _hits);
            return c.Response.WriteAsync("orders app");
        }));
        var sidecar = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app.Address);
        Assert.True(sidecar.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        return (app, sidecar);
    }

    private static async Task WaitForFailuresAsync(WorkloadTls workload, long atLeast)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (workload.TlsHandshakeFailures < atLeast)
        {
            Assert.True(DateTime.UtcNow < deadline, $"handshake failures stayed at {workload.TlsHandshakeFailures}, expected {atLeast}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task CallerWithCertificateFromTheBundle_ReachesTheApp_OverTls13AndH2()
    {
        var (app, sidecar) = await OrdersAsync();
        await using var _ = app;
        await using var __ = sidecar;
        using var client = new TlsClient(sidecar.InboundAddress, _ca.Leaf("frontend"));

        Assert.Equal("orders app", await client.GetStringAsync());
        Assert.Equal([SslProtocols.Tls13], client.Protocols);
        Assert.Equal("spiffe://weft.test/ns/default/svc/orders", Transport.PeerIdentity.FromCertificate(client.ServerCertificates[0])!.ToString());
        Assert.Equal(0, sidecar.Workload!.TlsHandshakeFailures);
    }

    [Fact]
    public async Task Plaintext_HttpAndH2c_AreRefused_AndCounted()
    {
        var (app, sidecar) = await OrdersAsync();
        await using var _ = app;
        await using var __ = sidecar;
        using var h1 = Mesh.Client(sidecar.InboundAddress);
        using var h2c = Mesh.Client(sidecar.InboundAddress);
        h2c.DefaultRequestVersion = HttpVersion.Version20;
        h2c.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        await Assert.ThrowsAsync<HttpRequestException>(() => h1.GetAsync("/"));
        await Assert.ThrowsAsync<HttpRequestException>(() => h2c.GetAsync("/"));

        Assert.Equal(0, Volatile.Read(ref _hits));
        await WaitForFailuresAsync(sidecar.Workload!, 2);

        // What an operator's Prometheus sees: the refusals and how long the certificate has left.
        using var admin = Mesh.Client(sidecar.AdminAddress);
        var samples = PromText.Parse(await admin.GetStringAsync("/metrics"));
        Assert.True(samples.Value("weft_proxy_tls_handshake_failures_total") >= 2);
        var left = (sidecar.Workload!.CertificateExpiry - sidecar.Workload.Time.GetUtcNow()).TotalSeconds;
        Assert.InRange(samples.Value("weft_proxy_certificate_expiry_seconds"), left - 60, left + 1);
    }

    public static TheoryData<string> RefusedCertificates => ["none", "another CA", "another trust domain", "expired", "not yet valid"];

    [Theory]
    [MemberData(nameof(RefusedCertificates))]
    public async Task ClientCertificate_IsRefused(string which)
    {
        using var otherCa = new TestCa();
        var now = DateTimeOffset.UtcNow;
        var certificate = which switch
        {
            "none" => null,
            "another CA" => otherCa.Leaf("frontend"),
            "another trust domain" => _ca.Leaf("frontend", uri: "spiffe://evil.test/ns/default/svc/frontend"),
            "expired" => _ca.Leaf("frontend", now.AddHours(-2), now.AddMinutes(-1)),
            "not yet valid" => _ca.Leaf("frontend", now.AddMinutes(5), now.AddHours(1)),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        var (app, sidecar) = await OrdersAsync();
        await using var _ = app;
        await using var __ = sidecar;
        using var client = new TlsClient(sidecar.InboundAddress, certificate);

        await Assert.ThrowsAnyAsync<Exception>(() => client.GetStringAsync());

        Assert.Equal(0, Volatile.Read(ref _hits));
        await WaitForFailuresAsync(sidecar.Workload!, 1);
    }
}
