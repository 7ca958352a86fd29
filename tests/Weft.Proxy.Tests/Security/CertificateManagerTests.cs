using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.Security;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Security;

/// <summary>Renewal on the test's clock: when it happens, what it does when the CA fails, and what connections see.</summary>
public sealed class CertificateManagerTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);

    private static Task<CertificateManager> StartAsync(TestCa ca, TimeProvider time, int seed) =>
        CertificateManager.StartAsync(ca, "orders", time, NullLogger.Instance, TimeSpan.FromSeconds(5), CancellationToken.None, new Random(seed));

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting until " + what);
            await Task.Delay(5);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Renewal_HappensBetween50And70PercentOfTheLifetime(int seed)
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        using var ca = new TestCa(time) { LeafTtl = Ttl };
        await using var manager = await StartAsync(ca, time, seed);
        var first = manager.Tls.Certificate;
        DateTimeOffset? renewedAt = null;
        manager.Tls.CertificateChanged += _ => renewedAt ??= time.GetUtcNow();

        // One-second steps over the whole lifetime: the renewal lands on the step it is due.
        while (renewedAt is null && time.GetUtcNow() < first.NotAfter)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }

        Assert.NotNull(renewedAt);
        // Measured from issuance: the CA backdates NotBefore by a minute, which must not pull the renewal forward.
        var issued = first.ReceivedAt;
        Assert.Equal(first.NotBefore + TimeSpan.FromMinutes(1), issued);
        var fraction = (renewedAt.Value - issued) / (first.NotAfter - issued);
        Assert.InRange(fraction, 0.5, 0.7 + 1.0 / Ttl.TotalSeconds);
        Assert.Equal(1, manager.Renewals);
        Assert.NotEqual(first.SerialNumber, manager.Tls.Certificate.SerialNumber);
        Assert.Equal(manager.Tls.Certificate.NotAfter, manager.Tls.CertificateExpiry);
        Assert.True(manager.Tls.Certificate.NotAfter > first.NotAfter);
    }

    [Fact]
    public async Task RenewalPoints_AreSpreadOverTheWindow_NotAllTheSame()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        using var ca = new TestCa(time) { LeafTtl = Ttl };
        var points = new HashSet<TimeSpan>();
        for (var seed = 0; seed < 5; seed++)
        {
            await using var manager = await StartAsync(ca, time, seed);
            var c = manager.Tls.Certificate;
            Assert.InRange((manager.RenewAt - c.ReceivedAt) / (c.NotAfter - c.ReceivedAt), 0.5, 0.7);
            points.Add(manager.RenewAt - c.ReceivedAt);
        }

        Assert.True(points.Count > 1);
    }

    [Fact]
    public async Task CaDown_RetriesWithBackoff_KeepsTheCurrentCertificate_ThenRenews()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        using var ca = new TestCa(time) { LeafTtl = Ttl };
        await using var manager = await StartAsync(ca, time, seed: 7);
        var first = manager.Tls.Certificate;
        ca.FailSigning = new HttpRequestException("connection refused (test)");

        time.Advance(manager.RenewAt - time.GetUtcNow());
        for (var i = 0; i < 30; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }

        Assert.Equal(0, manager.Renewals);
        Assert.Same(first, manager.Tls.Certificate);
        var attempts = ca.Signed;

        ca.FailSigning = null;
        // Fake time moves on one second per poll until the next retry lands; on a busy machine the retry's
        // continuation can lag any fixed number of advances, so the deadline is in real time.
        await WaitUntilAsync(() =>
        {
            if (manager.Renewals == 0) time.Advance(TimeSpan.FromSeconds(1));
            return manager.Renewals == 1;
        }, "the CA is back and the certificate renewed");
        Assert.True(ca.Signed > attempts);
        Assert.True(manager.Tls.Certificate.NotAfter > first.NotAfter);
    }

    [Fact]
    public async Task AfterRenewal_NewConnectionsGetTheNewCertificate_AndOpenOnesKeepWorking()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        using var ca = new TestCa(time) { LeafTtl = Ttl };
        await using var manager = await StartAsync(ca, time, seed: 3);
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var sidecar = await Mesh.SecureProxyAsync(manager.Tls, "orders", app.Address);
        sidecar.ConfigSink.Apply(Mesh.Snapshot(1, []));
        var caller = ca.Leaf("frontend");
        using var open = new TlsClient(sidecar.InboundAddress, caller);
        Assert.Equal("ok", await open.GetStringAsync());
        var first = manager.Tls.Certificate.SerialNumber;

        time.Advance(manager.RenewAt - time.GetUtcNow());
        await WaitUntilAsync(() => manager.Renewals == 1, "the certificate renewed");

        using var fresh = new TlsClient(sidecar.InboundAddress, caller);
        Assert.Equal("ok", await fresh.GetStringAsync());
        Assert.Equal("ok", await open.GetStringAsync());
        Assert.Equal(first, Assert.Single(open.ServerCertificates).SerialNumber);
        Assert.Equal(manager.Tls.Certificate.SerialNumber, Assert.Single(fresh.ServerCertificates).SerialNumber);
        Assert.NotEqual(first, manager.Tls.Certificate.SerialNumber);
    }
}
