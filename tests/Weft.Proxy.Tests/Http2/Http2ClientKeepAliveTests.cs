using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 client's keep-alive on real time and real sockets: a Kestrel h2c server behind a relay whose open
/// connections can go silent without closing (a vanished peer). The scripted-peer cases, on a driven clock, are in
/// <see cref="Http2ClientPeerTests"/>.
/// </summary>
public sealed class Http2ClientKeepAliveTests
{
    private static readonly Http2KeepAlive KeepAlive = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(300));

    [Fact]
    public async Task PeerGoneSilent_FailsTheRequestOnItsConnectionSoon_AndTheNextRequestGetsANewConnection()
    {
        await using var backend = await Backend.StartAsync(app => app.MapGet("/", () => "ok"), HttpProtocols.Http2);
        await using var relay = FreezingRelay.Start(backend.Address);
        using var transport = new UpstreamTransport(null, TimeSpan.FromMinutes(5));
        using var pool = new SidecarH2Pool(transport, "orders", TimeSpan.FromSeconds(5), int.MaxValue, TimeSpan.FromMinutes(5), TimeProvider.System,
            keepAlive: KeepAlive);
        var endpoint = Mesh.Endpoint("orders-0", relay.Address, sidecar: true);
        Assert.Equal(200, await GetAsync(pool, endpoint).WaitAsync(TimeSpan.FromSeconds(10)));

        relay.FreezeOpenConnections();
        var started = Stopwatch.GetTimestamp();
        // Without keep-alive this request would wait for as long as TCP keeps the connection (minutes): the bound here
        // is far above interval + timeout (0.5 s) and far below that.
        var e = await Assert.ThrowsAsync<Http2StreamException>(() => GetAsync(pool, endpoint).WaitAsync(TimeSpan.FromSeconds(20)));
        var waited = Stopwatch.GetElapsedTime(started);
        Assert.Contains("keep-alive PING", e.InnerException?.Message);
        Assert.True(waited < TimeSpan.FromSeconds(10), $"the dead connection was found after {waited}");

        Assert.Equal(200, await GetAsync(pool, endpoint).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, relay.Accepted);
        Assert.Equal(1, pool.Connections);
    }

    /// <summary>GET / on a stream of the pool; the response's status.</summary>
    private static async Task<int> GetAsync(SidecarH2Pool pool, Weft.Core.Mesh.MeshEndpoint endpoint)
    {
        var stream = await pool.OpenStreamAsync(endpoint, default);
        try
        {
            stream.SendHeaders(HeaderList.GetOrders(), 0);
            var status = await stream.ReadHeadAsync();
            var buffer = new byte[256];
            while (await stream.ReadAsync(buffer) > 0)
            {
            }

            return status;
        }
        finally
        {
            stream.Release();
        }
    }
}
