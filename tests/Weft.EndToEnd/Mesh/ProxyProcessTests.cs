using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Weft.EndToEnd.Mesh;

/// <summary><c>weft proxy</c> as a real process: it joins the mesh, and SIGTERM takes it out cleanly.</summary>
public sealed class ProxyProcessTests : IAsyncLifetime
{
    private readonly MeshFixture _mesh = new();

    public Task InitializeAsync() => _mesh.StartServerAsync();

    public Task DisposeAsync() => _mesh.DisposeAsync().AsTask();

    [Fact]
    public async Task WeftProxy_RegistersItsInboundAddress_AndSigtermDeregistersAndExitsZero()
    {
        var app = await _mesh.StartAppAsync("billing-app");
        int inbound = FreePort(), outbound = FreePort(), admin = FreePort();
        var start = WeftProxyLauncher.StartInfo(
        [
            "--server", _mesh.ServerAddress.ToString(), "--service", "billing", "--id", "billing-1",
            "--app-addr", $"127.0.0.1:{app.Port}", "--inbound-addr", $"127.0.0.1:{inbound}",
            "--outbound-addr", $"127.0.0.1:{outbound}", "--admin-addr", $"127.0.0.1:{admin}",
            "--check-http", "/health", "--check-interval", "1s", "--drain-time", "1s",
        ]);
        start.Environment.Remove("WEFT_ACL_TOKEN");
        start.Environment.Remove("WEFT_HTTP_ADDR");

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await MeshFixture.WaitUntilAsync(async () =>
            {
                if (process.HasExited) Assert.Fail($"weft proxy exited with {process.ExitCode}:\n{output}");
                try
                {
                    using var ready = await http.GetAsync($"http://127.0.0.1:{admin}/ready");
                    return ready.StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "weft proxy is ready (config applied, app check passing)", TimeSpan.FromSeconds(60));

            var entries = JsonDocument.Parse(await _mesh.Api.GetStringAsync("/v1/health/service/billing?passing")).RootElement;
            var service = Assert.Single(entries.EnumerateArray()).GetProperty("Service");
            Assert.Equal(inbound, service.GetProperty("Port").GetInt32());
            Assert.Equal("true", service.GetProperty("Meta").GetProperty("weft-sidecar").GetString());
            Assert.Equal($"127.0.0.1:{admin}", service.GetProperty("Meta").GetProperty("weft-admin").GetString());

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(deadline.Token);
            Assert.True(process.ExitCode == 0, output.ToString());
            Assert.Equal(0, JsonDocument.Parse(await _mesh.Api.GetStringAsync("/v1/catalog/service/billing")).RootElement.GetArrayLength());
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
