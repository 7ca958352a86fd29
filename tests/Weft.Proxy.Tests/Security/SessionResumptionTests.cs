using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Proxy.Hosting;
using Weft.Proxy.Security;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Security;

/// <summary>
/// TLS 1.3 session resumption on the inbound listener, seen from <c>openssl s_client</c>: the first connection saves its
/// session (<c>-sess_out</c>), the second offers it (<c>-sess_in</c>). Each sends one HTTP/1.1 request, so the reply
/// shows what the sidecar decided about the caller on that connection.
/// </summary>
public sealed class SessionResumptionTests : IDisposable
{
    private readonly TestCa _ca = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("weft-resume-");

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Delete(recursive: true);
    }

    private static ServiceIntentionsEntry Intentions(string destination, params SourceIntention[] sources) =>
        new ServiceIntentionsEntry { Kind = ConfigKinds.ServiceIntentions, Name = destination, Sources = [.. sources] }.Normalized();

    private Task<string> FilesAsync(WorkloadCertificate certificate, string name) => OpensslClient.CertificateFilesAsync(_dir, certificate, name);

    private static Task<string> SClientAsync(string arguments) =>
        OpensslClient.RunAsync("-nocommands " + arguments, "GET /who HTTP/1.1\r\nHost: orders\r\nConnection: close\r\n\r\n");

    private static SourceIntention Allow(string name) => new() { Name = name, Action = IntentionActions.Allow };

    private async Task<(Backend App, ProxyHost Sidecar, string Address)> OrdersAsync(bool defaultAllow)
    {
        var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("orders app")));
        var sidecar = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app.Address);
        var snapshot = Mesh.Snapshot(1, [], Intentions("orders", Allow("frontend"))) with { IntentionsDefaultAllow = defaultAllow };
        Assert.True(sidecar.ConfigSink.Apply(snapshot).Applied);
        return (app, sidecar, $"127.0.0.1:{sidecar.InboundAddress.Port}");
    }

    [Fact]
    public async Task SClient_SecondConnectionOffersTheSavedSession_IsResumed_AndStillReachesTheApp()
    {
        var (app, sidecar, address) = await OrdersAsync(defaultAllow: true);
        await using var _ = app;
        await using var __ = sidecar;
        var frontend = await FilesAsync(_ca.Leaf("frontend"), "frontend");
        var session = Path.Combine(_dir.FullName, "frontend.session");

        var first = await SClientAsync($"-connect {address} {frontend} -sess_out {session}");
        var second = await SClientAsync($"-connect {address} {frontend} -sess_in {session}");

        Assert.True(first.Contains("New, TLSv1.3") && first.Contains("HTTP/1.1 200") && first.Contains("orders app"), first);
        Assert.True(second.Contains("Reused, TLSv1.3") && second.Contains("HTTP/1.1 200") && second.Contains("orders app"), second);
        Assert.Equal(0, sidecar.Workload!.TlsHandshakeFailures);
    }

    /// <summary>
    /// A connection with <paramref name="savedWith"/>'s certificate that saves its session, then one with
    /// <paramref name="offeredWith"/>'s that offers it. In a clean-clone CI run on 27 Nov (2 cores, the rest of the suite
    /// in parallel; never when the class ran alone, 8 of 8 under a CPU load) the server answered billing's offered
    /// session with a full handshake instead of resuming it, so this test had nothing to check; the pair is then tried
    /// again, at most three times. Whether resumption happens at all is
    /// <see cref="SClient_SecondConnectionOffersTheSavedSession_IsResumed_AndStillReachesTheApp"/>'s to say.
    /// </summary>
    private static async Task<(string First, string Resumed)> SaveAndResumeAsync(string address, string savedWith, string offeredWith, string session)
    {
        for (var attempt = 1; ; attempt++)
        {
            var first = await SClientAsync($"-connect {address} {savedWith} -sess_out {session}");
            var resumed = await SClientAsync($"-connect {address} {offeredWith} -sess_in {session}");
            if (resumed.Contains("Reused, TLSv1.3") || attempt == 3)
                return (first, resumed);
        }
    }

    [Fact]
    public async Task ResumedSession_IsTheServiceWhoseCertificateMadeIt_NotTheCertificateOfferedWithIt()
    {
        // Only frontend may call orders.
        var (app, sidecar, address) = await OrdersAsync(defaultAllow: false);
        await using var _ = app;
        await using var __ = sidecar;
        var frontend = await FilesAsync(_ca.Leaf("frontend"), "frontend");
        var billing = await FilesAsync(_ca.Leaf("billing"), "billing");
        var frontendSession = Path.Combine(_dir.FullName, "frontend.session");
        var billingSession = Path.Combine(_dir.FullName, "billing.session");

        var (frontendFirst, frontendResumed) = await SaveAndResumeAsync(address, frontend, frontend, frontendSession);
        // billing's session, offered by a client holding frontend's certificate: the server resumes billing's session,
        // and billing is what the intentions see.
        var (billingFirst, billingResumed) = await SaveAndResumeAsync(address, billing, frontend, billingSession);

        Assert.True(frontendFirst.Contains("HTTP/1.1 200") && frontendFirst.Contains("orders app"), frontendFirst);
        Assert.True(billingFirst.Contains("HTTP/1.1 403") && billingFirst.Contains("intention-denied"), billingFirst);
        Assert.True(frontendResumed.Contains("Reused, TLSv1.3") && frontendResumed.Contains("HTTP/1.1 200") && frontendResumed.Contains("orders app"), frontendResumed);
        Assert.True(billingResumed.Contains("Reused, TLSv1.3") && billingResumed.Contains("HTTP/1.1 403"), billingResumed);
        var denial = billingResumed[billingResumed.IndexOf("intention-denied:", StringComparison.Ordinal)..];
        Assert.Contains("billing", denial.Split('\n')[0]);
        Assert.DoesNotContain("frontend", denial.Split('\n')[0]);
    }

    [Fact]
    public async Task OutboundTransport_SecondConnectionToTheSameSidecar_ResumesTheSession()
    {
        // openssl s_server -www answers each connection with a page that says whether its session was "New" or "Reused";
        // it stands in for the orders sidecar, requiring a client certificate from the test CA.
        var orders = await FilesAsync(_ca.Leaf("orders"), "orders");
        var rootFile = Path.Combine(_dir.FullName, "root.pem");
        await File.WriteAllTextAsync(rootFile, _ca.Root.ExportCertificatePem() + "\n" + _ca.Intermediate.ExportCertificatePem() + "\n");
        var start = new ProcessStartInfo("openssl", $"s_server -accept 127.0.0.1:0 -naccept 3 -www -tls1_3 {orders} -Verify 2 -verify_return_error -CAfile {rootFile}")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var server = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var port = 0;
            while (port == 0 && await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("ACCEPT 127.0.0.1:", StringComparison.Ordinal))
                    port = int.Parse(line["ACCEPT 127.0.0.1:".Length..], System.Globalization.CultureInfo.InvariantCulture);
            }

            Assert.NotEqual(0, port);
            var workload = _ca.Workload("frontend");
            using var transport = new Transport.UpstreamTransport(workload, TimeSpan.FromMinutes(5));

            async Task<string> PageAsync()
            {
                await using var stream = await transport.ConnectAsync(Transport.PeerKind.Sidecar, "orders", new System.Net.DnsEndPoint("127.0.0.1", port), timeout.Token);
                await stream.WriteAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), timeout.Token);
                using var reader = new StreamReader(stream);
                return await reader.ReadToEndAsync(timeout.Token);
            }

            var first = await PageAsync();
            var second = await PageAsync();
            var third = await PageAsync();

            Assert.True(first.Contains("New, TLSv1.3"), first);
            Assert.True(second.Contains("Reused, TLSv1.3"), second);
            Assert.True(third.Contains("Reused, TLSv1.3"), third);
            Assert.Equal(0, workload.TlsHandshakeFailures);
        }
        finally
        {
            if (!server.HasExited) server.Kill();
        }
    }
}
