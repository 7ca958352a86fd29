using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
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

    private static async Task<string> SClientAsync(string arguments)
    {
        var start = new ProcessStartInfo("openssl", "s_client " + arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);
        return await stdout + await stderr;
    }

    [Fact]
    public async Task SClient_SeesTls13AndARequestedClientCertificate_AndNegotiatesH2()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var sidecar = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app.Address);
        sidecar.ConfigSink.Apply(Mesh.Snapshot(1, []));
        var address = $"127.0.0.1:{sidecar.InboundAddress.Port}";

        var without = await SClientAsync($"-connect {address} -alpn h2");

        Assert.True(without.Contains("TLSv1.3") && without.Contains("client certificate CA names"), without);

        // Files only for openssl's sake: a throwaway test key, in a temp dir removed after the test.
        var caller = _ca.Leaf("frontend");
        var certFile = Path.Combine(_dir.FullName, "frontend.pem");
        var keyFile = Path.Combine(_dir.FullName, "frontend.key");
        await File.WriteAllTextAsync(certFile, caller.Leaf.ExportCertificatePem() + "\n" + string.Concat(caller.Intermediates.Select(c => c.ExportCertificatePem() + "\n")));
        await File.WriteAllTextAsync(keyFile, caller.Leaf.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        var with = await SClientAsync($"-connect {address} -alpn h2 -cert {certFile} -key {keyFile}");

        Assert.True(with.Contains("ALPN protocol: h2") && with.Contains("New, TLSv1.3"), with);
    }
}
