using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Weft.Proxy.Security;
using Weft.Proxy.Sidecar;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// Certificates renewing and the CA root rotating while traffic flows between two sidecars over mTLS, against the real
/// server CA, over the default sidecar hop (Weft's own HTTP/2 client and server).
/// </summary>
public sealed class MtlsRotationTests : IAsyncLifetime
{
    private readonly MeshFixture _mesh = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    private async Task<JsonElement> RootsAsync() =>
        JsonDocument.Parse(await _mesh.Api.GetStringAsync("/v1/connect/ca/roots")).RootElement.Clone();

    private static X509Certificate2 ActiveRoot(JsonElement roots)
    {
        var active = roots.GetProperty("ActiveRootID").GetString();
        var root = roots.GetProperty("Roots").EnumerateArray().Single(r => r.GetProperty("ID").GetString() == active);
        return X509Certificate2.CreateFromPem(root.GetProperty("RootCert").GetString());
    }

    /// <summary>True when the sidecar's current certificate chains to <paramref name="root"/> alone (no cross-signature needed).</summary>
    private static bool IssuedUnder(SidecarRunner sidecar, X509Certificate2 root, string trustDomain)
    {
        var certificate = sidecar.Host.Workload!.Certificate;
        var onlyNewRoot = new TrustBundle(trustDomain, "", [root], []);
        var chain = new X509Certificate2Collection(certificate.Intermediates.Where(c => c.SubjectName.RawData.AsSpan().SequenceEqual(root.SubjectName.RawData) is false).ToArray());
        return onlyNewRoot.Validate(certificate.Leaf, chain, DateTimeOffset.UtcNow, null, out _) is not null;
    }

    [Fact]
    public async Task LoadThroughLeafRenewalAndRootRotation_FailsNoRequest()
    {
        // Leaves live 12 s, so each sidecar renews every 6–8.4 s; connections between sidecars are recycled every
        // second, so new handshakes keep happening with whatever certificate and bundle are current.
        await _mesh.StartServerAsync(leafTtl: TimeSpan.FromSeconds(12));
        var ordersApp = await _mesh.StartAppAsync("orders-1");
        var webApp = await _mesh.StartAppAsync("web-1");
        var orders = await _mesh.StartSidecarAsync("orders", "orders-1", ordersApp.Port, connectionLifetime: TimeSpan.FromSeconds(1));
        var web = await _mesh.StartSidecarAsync("web", "web-1", webApp.Port, connectionLifetime: TimeSpan.FromSeconds(1));
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await MeshFixture.WaitUntilAsync(async () =>
        {
            using var response = await client.SendAsync(MeshFixture.Through(web, "orders"));
            return response.StatusCode == HttpStatusCode.OK;
        }, "web's sidecar reaches orders");

        var before = await RootsAsync();
        var trustDomain = before.GetProperty("TrustDomain").GetString()!;
        var oldRootId = before.GetProperty("ActiveRootID").GetString();
        var renewalsBefore = (Orders: orders.Certificates.Renewals, Web: web.Certificates.Renewals);
        // The load's own client: the wait above may have had its connection handed to the layered path (a request
        // before the route existed), and a connection handed over stays there.
        using var load = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var fastPath = web.Host.FastPath!;
        var ownServer = orders.Host.Metrics.OwnH2!;
        var counted = (OwnClient: fastPath.SidecarH2Exchanges, FallBacks: fastPath.FallBacks, Kestrel: ownServer.Kestrel, OwnServer: ownServer.Served);

        var ok = 0L;
        var failures = new List<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var started = DateTime.UtcNow;
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 50_000 && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    using var response = await load.SendAsync(MeshFixture.Through(web, "orders"));
                    var body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode == HttpStatusCode.OK && body == "orders-1")
                        Interlocked.Increment(ref ok);
                    else
                        lock (failures) failures.Add($"{(int)response.StatusCode} {body}");
                }
                catch (HttpRequestException e)
                {
                    lock (failures) failures.Add(e.Message);
                }
            }
        })).ToArray();

        // A few seconds into the load: rotate the root the way an operator does.
        await MeshFixture.WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > 200), "traffic flows", TimeSpan.FromSeconds(20));
        var rotate = await Cli.CliInvocation.RunAsync("ca", "rotate", "--http-addr", _mesh.ServerAddress.ToString());
        Assert.True(rotate.ExitCode == 0, rotate.ToString());
        var after = await RootsAsync();
        var newRootId = after.GetProperty("ActiveRootID").GetString();
        Assert.NotEqual(oldRootId, newRootId);
        var newRoot = ActiveRoot(after);

        (bool Trusts, bool Presents) State(SidecarRunner sidecar) =>
            (sidecar.Host.Workload!.Bundle.ActiveRootId == newRootId, IssuedUnder(sidecar, newRoot, trustDomain));

        // Keep the load on until both sidecars trust the new root and present a certificate it issued.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (!(State(orders) is (true, true) && State(web) is (true, true)))
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"timed out waiting until both sidecars renewed under the new root (trusts it, presents a certificate from it): orders {State(orders)}, web {State(web)}");
            await Task.Delay(20);
        }

        // And a little longer, so requests also run on connections made with the new certificates.
        var settled = Interlocked.Read(ref ok);
        await MeshFixture.WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > settled + 200), "more traffic after the rotation", TimeSpan.FromSeconds(20));
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        Assert.Empty(failures);
        Assert.True(Interlocked.Read(ref ok) > 400, $"only {ok} requests in {DateTime.UtcNow - started}");
        Assert.True(orders.Certificates.Renewals > renewalsBefore.Orders, "orders's sidecar did not renew during the load");
        Assert.True(web.Certificates.Renewals > renewalsBefore.Web, "web's sidecar did not renew during the load");
        // ... and not more often than every 50% of the 12 s lifetime (the CA backdates NotBefore; that must not count).
        var most = (DateTime.UtcNow - started) / TimeSpan.FromSeconds(6) + 1;
        Assert.InRange(orders.Certificates.Renewals - renewalsBefore.Orders, 1, most);
        Assert.InRange(web.Certificates.Renewals - renewalsBefore.Web, 1, most);
        Assert.Equal(2, after.GetProperty("Roots").GetArrayLength());
        Assert.Equal(0, orders.Host.Workload!.TlsHandshakeFailures);
        Assert.Equal(0, web.Host.Workload!.TlsHandshakeFailures);

        // The load ran over Weft's own HTTP/2 pair (the default): every request through web's own client, and every
        // connection orders's sidecar took in meanwhile (one a second, by the lifetime) served by its own server.
        var ownClient = fastPath.SidecarH2Exchanges - counted.OwnClient;
        Assert.True(ownClient >= Interlocked.Read(ref ok), $"only {ownClient} of {ok} requests went through the own h2 client");
        Assert.Equal(counted.FallBacks, fastPath.FallBacks);
        Assert.True(ownServer.Served - counted.OwnServer > 1, $"the own h2 server served {ownServer.Served - counted.OwnServer} connections during the load");
        Assert.Equal(counted.Kestrel, ownServer.Kestrel);
    }
}
