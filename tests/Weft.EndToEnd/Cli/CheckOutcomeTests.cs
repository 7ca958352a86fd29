using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Weft.Core.Mesh.Protocol;

namespace Weft.EndToEnd.Cli;

/// <summary>
/// The red and yellow lines of <c>weft check</c> that a healthy mesh never shows, against a real token-protected server
/// and the real <c>weft check</c> process. The sidecars here are stream clients of <c>mesh.proto</c> that say what a real
/// sidecar would say in those states (another build's version, a rejected config, a certificate about to lapse), which
/// a real sidecar of this build cannot be made to say on demand.
/// </summary>
public sealed class CheckOutcomeTests
{
    [Fact]
    public async Task Check_SidecarsOnAnotherVersion_RejectingConfig_OrWithExpiringCertificates_EachGetTheirLineAndFix()
    {
        await using var server = await WeftServerProcess.StartAsync(open: false);
        var token = (await File.ReadAllTextAsync(Path.Combine(server.DataDir, "acl-token"))).Trim();
        var (version, grpc) = await SelfAsync(server, token);
        var now = DateTimeOffset.UtcNow;

        // Leaf TTL is the server's default 24 h: a certificate with an hour left has under 10% of its life.
        await using var old = await StreamSidecar.ConnectAsync(grpc, token, "billing", "billing-1", version: "0.0.1-old");
        await using var nacking = await StreamSidecar.ConnectAsync(grpc, token, "orders", "orders-1", version, nack: "service-router orders: route 0 has no destination service");
        await using var expiring = await StreamSidecar.ConnectAsync(grpc, token, "payments", "payments-1", version, certificateNotAfter: now.AddHours(1));
        await using var expired = await StreamSidecar.ConnectAsync(grpc, token, "refunds", "refunds-1", version, certificateNotAfter: now.AddMinutes(-30));
        await using var fine = await StreamSidecar.ConnectAsync(grpc, token, "web", "web-1", version, certificateNotAfter: now.AddHours(20));
        await WaitForReportsAsync(server, token, 5);

        var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", server.Address, "--token", token);

        Assert.True(result.ExitCode == 6, result.ToString());
        var lines = result.Stdout.Split('\n');
        void AssertLine(string start, string? fix)
        {
            var at = Array.FindIndex(lines, l => l.StartsWith(start, StringComparison.Ordinal));
            Assert.True(at >= 0, $"no line starting \"{start}\":\n{result}");
            if (fix is not null)
                Assert.True(at + 1 < lines.Length && lines[at + 1].StartsWith("    fix: " + fix, StringComparison.Ordinal), $"line \"{lines[at]}\" is not followed by fix \"{fix}\":\n{result}");
        }

        AssertLine($"[FAIL] proxy billing-1 (billing): runs weft 0.0.1-old, the server {version}", $"restart the sidecar with weft {version}");
        AssertLine($"[FAIL] proxy orders-1 (orders): rejected config v{nacking.Nacked}: service-router orders: route 0 has no destination service",
            "correct the config entry named in the reason (weft config read / weft config write)");
        // Minutes as whole numbers: the check runs some seconds after the certificates were given their times.
        AssertLine("[warn] proxy payments-1 (payments): ", null);
        Assert.Matches(@"certificate expires in (5\d|60) minutes \(renewal is late\)$", lines.Single(l => l.StartsWith("[warn] proxy payments-1", StringComparison.Ordinal)));
        AssertLine("[FAIL] proxy refunds-1 (refunds): certificate expired ",
            "the sidecar cannot renew: check it reaches the server with a valid token, then restart it");
        Assert.Matches(@"certificate expired (3\d) minutes ago", lines.Single(l => l.StartsWith("[FAIL] proxy refunds-1", StringComparison.Ordinal)));
        AssertLine($"[ok] proxy web-1 (web): weft {version}", null);
        Assert.Contains("3 checks failed", result.Stdout);
    }

    [Fact]
    public async Task Check_RootCaExpiringWithin30Days_IsRedWithTheRotateFix()
    {
        var dir = Directory.CreateTempSubdirectory("weft-check-ca-").FullName;
        try
        {
            // An operator's root with 10 days left, made here (never committed).
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=Expiring Test Root", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            using var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10));
            var certFile = Path.Combine(dir, "root.pem");
            var keyFile = Path.Combine(dir, "root-key.pem");
            await File.WriteAllTextAsync(certFile, root.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());

            await using var server = await WeftServerProcess.StartAsync(open: true, null, "--ca-cert", certFile, "--ca-key", keyFile);
            var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", server.Address);

            Assert.True(result.ExitCode == 6, result.ToString());
            var lines = result.Stdout.Split('\n');
            var red = Array.FindIndex(lines, l => l.StartsWith("[FAIL] active root: the active root expires in 10 days", StringComparison.Ordinal));
            Assert.True(red >= 0, result.ToString());
            Assert.Equal("    fix: rotate the CA before it expires: weft ca rotate", lines[red + 1]);
            Assert.Contains("[ok] trust bundle: 1 trusted root", result.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<(string Version, Uri Grpc)> SelfAsync(WeftServerProcess server, string token)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Add("X-Consul-Token", token);
        using var self = JsonDocument.Parse(await http.GetStringAsync($"http://{server.Address}/v1/agent/self"));
        var version = self.RootElement.GetProperty("Config").GetProperty("Version").GetString()!;
        var grpc = self.RootElement.GetProperty("Weft").GetProperty("GrpcAddress").GetString()!;
        return (version, new Uri(grpc.Contains("://", StringComparison.Ordinal) ? grpc : "http://" + grpc));
    }

    private static async Task WaitForReportsAsync(WeftServerProcess server, string token, int proxies)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Add("X-Consul-Token", token);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var list = await http.GetFromJsonAsync<JsonElement>($"http://{server.Address}/v1/weft/proxies");
            if (list.EnumerateArray().Count(p => p.GetProperty("LastStatsReport").ValueKind == JsonValueKind.String) == proxies)
                return;
            Assert.True(DateTime.UtcNow < deadline, $"the server did not list {proxies} reporting proxies: {list}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// A stream client of <c>mesh.proto</c> that acknowledges (or rejects, with <c>nack</c>) what it is sent and reports
    /// every second the version and certificate it is given, as a sidecar reports its own.
    /// </summary>
    private sealed class StreamSidecar : IAsyncDisposable
    {
        private readonly GrpcChannel _channel;
        private readonly AsyncDuplexStreamingCall<ProxyMessage, ServerMessage> _call;
        private readonly CancellationTokenSource _stop = new();
        private readonly SemaphoreSlim _write = new(1, 1);
        private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _loops = Task.CompletedTask;

        private StreamSidecar(GrpcChannel channel, string token)
        {
            _channel = channel;
            _call = new MeshStream.MeshStreamClient(channel).Stream(new Metadata { { "x-consul-token", token } }, cancellationToken: _stop.Token);
        }

        /// <summary>The version this sidecar rejected (0 if it rejected none).</summary>
        public ulong Nacked { get; private set; }

        public static async Task<StreamSidecar> ConnectAsync(Uri grpc, string token, string service, string proxyId, string version,
            string? nack = null, DateTimeOffset? certificateNotAfter = null)
        {
            var sidecar = new StreamSidecar(GrpcChannel.ForAddress(grpc), token);
            await sidecar.SendAsync(new ProxyMessage { Hello = new Hello { Service = service, ProxyId = proxyId, Node = "check-test" } });
            var reading = Task.Run(async () =>
            {
                await foreach (var message in sidecar._call.ResponseStream.ReadAllAsync(sidecar._stop.Token))
                {
                    if (nack is not null)
                    {
                        sidecar.Nacked = message.Version;
                        await sidecar.SendAsync(new ProxyMessage { Nack = new Nack { Version = message.Version, Reason = nack } });
                    }
                    else
                    {
                        await sidecar.SendAsync(new ProxyMessage { Ack = new Ack { Version = message.Version } });
                    }

                    sidecar._answered.TrySetResult();
                }
            });
            var started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var reporting = Task.Run(async () =>
            {
                await sidecar._answered.Task;
                while (!sidecar._stop.IsCancellationRequested)
                {
                    await sidecar.SendAsync(new ProxyMessage
                    {
                        Stats = new Stats
                        {
                            Version = version,
                            StartedUnixMs = started,
                            CertificateNotAfterUnixMs = certificateNotAfter?.ToUnixTimeMilliseconds() ?? 0,
                            ConfigVersion = nack is null ? 1UL : 0UL,
                            ConfigAgeSeconds = nack is null ? 1 : -1,
                        },
                    });
                    await Task.Delay(TimeSpan.FromSeconds(1), sidecar._stop.Token);
                }
            });
            sidecar._loops = Task.WhenAll(reading, reporting);
            await sidecar._answered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return sidecar;
        }

        private async Task SendAsync(ProxyMessage message)
        {
            await _write.WaitAsync();
            try
            {
                await _call.RequestStream.WriteAsync(message);
            }
            finally
            {
                _write.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _loops;
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException or IOException)
            {
                // The stream ends by cancellation.
            }

            _call.Dispose();
            _channel.Dispose();
        }
    }
}
