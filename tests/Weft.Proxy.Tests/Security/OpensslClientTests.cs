using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Security;

/// <summary>What an operator sees pointing <c>openssl s_client</c> at an inbound listener.</summary>
public sealed class OpensslClientTests : IDisposable
{
    private readonly TestCa _ca = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("weft-openssl-");

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Delete(recursive: true);
    }

    [Fact]
    public async Task SClient_SeesTls13AndARequestedClientCertificate_AndNegotiatesH2()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var sidecar = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app.Address);
        sidecar.ConfigSink.Apply(Mesh.Snapshot(1, []));
        var address = $"127.0.0.1:{sidecar.InboundAddress.Port}";

        var without = await OpensslClient.RunAsync($"-connect {address} -alpn h2");

        Assert.True(without.Contains("TLSv1.3") && without.Contains("client certificate CA names"), without);

        var caller = await OpensslClient.CertificateFilesAsync(_dir, _ca.Leaf("frontend"), "frontend");
        var with = await OpensslClient.RunAsync($"-connect {address} -alpn h2 {caller}");

        Assert.True(with.Contains("ALPN protocol: h2") && with.Contains("New, TLSv1.3"), with);
    }
}
