using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Security;

/// <summary>Calls to other sidecars go over mTLS and reach only a peer whose certificate names the service the call is for.</summary>
public class OutboundMutualTlsTests : IDisposable
{
    private readonly TestCa _ca = new();
    private int _hits;

    /// <summary>Whether the client sidecar's hop uses Weft's own HTTP/2 client (the default; off with <c>WEFT_FAST_H2=0</c>).</summary>
    protected virtual bool FastH2 => true;

    public void Dispose()
    {
        _ca.Dispose();
        GC.SuppressFinalize(this);
    }

    private Task<Weft.Proxy.Hosting.ProxyHost> ClientSidecarAsync() =>
        Weft.Proxy.Hosting.ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { Workload = _ca.Workload("frontend"), Time = _ca.Time, FastH2 = FastH2 });

    private Task<Backend> AppAsync() => Backend.StartAsync(a => a.Run(c =>
    {
        Interlocked.Increment(ref _hits);
        return c.Response.WriteAsync("app of " + c.Request.Host);
    }));

    [Fact]
    public async Task TwoSidecars_CallGoesOverMtls_AndReachesTheApp()
    {
        await using var app = await AppAsync();
        await using var server = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app.Address);
        server.ConfigSink.Apply(Mesh.Snapshot(1, []));
        await using var client = await ClientSidecarAsync();
        client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", server.InboundAddress, sidecar: true)])]));
        using var http = Mesh.Client(client.OutboundAddress, "orders");

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);

        Assert.Equal(3, Volatile.Read(ref _hits));
        Assert.Equal(0, client.Workload!.TlsHandshakeFailures);
        Assert.Equal(0, server.Workload!.TlsHandshakeFailures);
    }

    [Fact]
    public async Task PeerWhoseCertificateNamesAnotherService_IsRefused()
    {
        await using var app = await AppAsync();
        // Registered as orders, but holds payments's certificate (say, a misdirected or hijacked address).
        await using var impostor = await Mesh.SecureProxyAsync(_ca.Workload("payments"), "payments", app.Address);
        impostor.ConfigSink.Apply(Mesh.Snapshot(1, []));
        await using var client = await ClientSidecarAsync();
        client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", impostor.InboundAddress, sidecar: true)])]));
        using var http = Mesh.Client(client.OutboundAddress, "orders");

        var response = await http.GetAsync("/");

        Assert.True((int)response.StatusCode >= 500, $"got {(int)response.StatusCode}");
        Assert.Equal(0, Volatile.Read(ref _hits));
        Assert.True(client.Workload!.TlsHandshakeFailures >= 1);
    }

    [Fact]
    public async Task PeerFromAnotherCa_IsRefused()
    {
        using var otherCa = new TestCa();
        await using var app = await AppAsync();
        await using var stranger = await Mesh.SecureProxyAsync(otherCa.Workload("orders"), "orders", app.Address);
        stranger.ConfigSink.Apply(Mesh.Snapshot(1, []));
        await using var client = await ClientSidecarAsync();
        client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", stranger.InboundAddress, sidecar: true)])]));
        using var http = Mesh.Client(client.OutboundAddress, "orders");

        var response = await http.GetAsync("/");

        Assert.True((int)response.StatusCode >= 500, $"got {(int)response.StatusCode}");
        Assert.Equal(0, Volatile.Read(ref _hits));
        Assert.True(client.Workload!.TlsHandshakeFailures >= 1);
    }
}
