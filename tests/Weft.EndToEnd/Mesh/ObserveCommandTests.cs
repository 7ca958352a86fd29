using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Weft.EndToEnd.Cli;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// <c>weft top</c>, <c>weft stat</c> and <c>weft check</c> as separate processes against a real control plane
/// with real sidecars that carried real traffic: the figures they print are the traffic the test drove.
/// </summary>
public sealed class ObserveCommandTests : IAsyncLifetime
{
    private const int Succeeding = 100;
    private const int Failing = 20;

    private readonly MeshFixture _mesh = new();
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };

    public Task InitializeAsync() => _mesh.StartServerAsync();

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mesh.DisposeAsync();
    }

    private string Addr => _mesh.ServerAddress.ToString();

    /// <summary>web → orders through both sidecars: 100 answered 200, 20 answered 500.</summary>
    private async Task DriveTrafficAsync()
    {
        var orders = await _mesh.StartAppAsync("orders-app", http =>
            Task.FromResult(http.Request.Path.StartsWithSegments("/fail") ? Results.StatusCode(500) : Results.Text("orders")));
        await _mesh.StartSidecarAsync("orders", "orders-1", orders.Port);
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        await MeshFixture.WaitUntilAsync(async () =>
        {
            using var probe = MeshFixture.Through(web, "orders", "/warmup");
            using var response = await _client.SendAsync(probe);
            return response.StatusCode == HttpStatusCode.OK;
        }, "web's sidecar reaches orders");
        // The warm-up probe is traffic too: wait until it is reported, then count from there.
        await MeshFixture.WaitUntilAsync(async () => await CountedAsync("orders") >= 1, "the warm-up probe is reported", TimeSpan.FromSeconds(30));
        var before = await CountedAsync("orders");
        for (var i = 0; i < Succeeding + Failing; i++)
        {
            using var request = MeshFixture.Through(web, "orders", i < Succeeding ? "/api" : "/fail");
            using var response = await _client.SendAsync(request);
            Assert.Equal(i < Succeeding ? HttpStatusCode.OK : HttpStatusCode.InternalServerError, response.StatusCode);
        }
        _baseline = before;
        await MeshFixture.WaitUntilAsync(async () => await CountedAsync("orders") >= before + Succeeding + Failing,
            "the server has the sidecars' reports of the traffic", TimeSpan.FromSeconds(30));
    }

    private double _baseline;

    /// <summary>Requests the server counted for a service over the last minute (rate × window).</summary>
    private async Task<double> CountedAsync(string service)
    {
        using var response = await _mesh.Api.GetAsync($"/v1/weft/stats/{service}?window=60s");
        if (!response.IsSuccessStatusCode) return 0;
        using var stats = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return stats.RootElement.GetProperty("RequestsPerSecond").GetDouble() * 60;
    }

    [Fact]
    public async Task StatJson_FiguresMatchTheTrafficDriven()
    {
        await DriveTrafficAsync();

        var result = await CliInvocation.RunProcessAsync(null, "stat", "orders", "--json", "--window", "60s", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var stat = JsonDocument.Parse(result.Stdout);
        var root = stat.RootElement;
        Assert.Equal("orders", root.GetProperty("Name").GetString());
        Assert.Equal(60, root.GetProperty("WindowSeconds").GetDouble());
        var counted = root.GetProperty("RequestsPerSecond").GetDouble() * 60;
        Assert.InRange(counted - _baseline, Succeeding + Failing - 2, Succeeding + Failing + 2);
        var success = root.GetProperty("SuccessRate").GetDouble();
        Assert.InRange(success, (double)Succeeding / (Succeeding + Failing) - 0.03, (double)Succeeding / (Succeeding + Failing) + 0.03);
        Assert.InRange(root.GetProperty("P50Seconds").GetDouble(), 0, 0.5);
        Assert.True(root.GetProperty("P99Seconds").GetDouble() >= root.GetProperty("P50Seconds").GetDouble(), result.Stdout);
        Assert.Equal(1, root.GetProperty("Instances").GetInt32());
        Assert.Contains(root.GetProperty("Callers").EnumerateArray(), e => e.GetProperty("Source").GetString() == "web");
    }

    [Fact]
    public async Task Stat_Table_ShowsTheSignalsAndTheCaller()
    {
        await DriveTrafficAsync();

        var result = await CliInvocation.RunProcessAsync(null, "stat", "orders", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("\u001b", result.Stdout);
        var success = Columns(Assert.Single(Lines(result.Stdout), l => l.StartsWith("success ", StringComparison.Ordinal)));
        Assert.EndsWith("%", success[1]);
        Assert.Contains(Lines(result.Stdout), l => Columns(l) is ["caller", "web", _, _]);
    }

    [Fact]
    public async Task TopOnce_ListsTheServicesWithTheirTrafficBusiestFirst()
    {
        await DriveTrafficAsync();

        var result = await CliInvocation.RunProcessAsync(null, "top", "--once", "--window", "60s", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("\u001b", result.Stdout);
        var rows = Lines(result.Stdout).Select(Columns).Where(c => c.Length == 9 && c[0] is "orders" or "web").ToList();
        Assert.Equal("orders", rows[0][0]);
        Assert.True(double.Parse(rows[0][1], CultureInfo.InvariantCulture) > 0, result.Stdout);
        var success = double.Parse(rows[0][2].TrimEnd('%'), CultureInfo.InvariantCulture);
        Assert.InRange(success, 80, 87);
        Assert.NotEqual("-", rows[0][4]);
    }

    [Fact]
    public async Task TopOnce_Routes_ListsTheRoutesOfOneService()
    {
        await DriveTrafficAsync();

        var result = await CliInvocation.RunProcessAsync(null, "top", "--once", "--service", "orders", "--window", "60s", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ROUTE", result.Stdout);
        Assert.Contains("orders at", result.Stdout);
        Assert.DoesNotContain("no routes with traffic", result.Stdout);
    }

    [Fact]
    public async Task Stat_UnknownService_ExitsFiveAndSaysSo()
    {
        var result = await CliInvocation.RunProcessAsync(null, "stat", "no-such-service", "--http-addr", Addr);

        Assert.True(result.ExitCode == 5, result.ToString());
        Assert.StartsWith("weft: no service \"no-such-service\" is registered", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("top", "--sort", "fastest")]
    [InlineData("top", "--interval", "soon")]
    [InlineData("stat", "orders", "--window", "1h")]
    [InlineData("stat")]
    public async Task BadFlags_ExitTwoWithAMessage(params string[] args)
    {
        var result = await CliInvocation.RunAsync([.. args, "--http-addr", Addr]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.NotEqual("", result.Stderr.Trim());
    }

    [Fact]
    public async Task Check_HealthyMesh_AllGreenWithEachProxy()
    {
        await DriveTrafficAsync();
        foreach (var id in new[] { "orders-1", "web-1" })
        {
            await MeshFixture.WaitUntilAsync(async () => (await ProxyAsync(id))?.GetProperty("LastStatsReport").ValueKind == JsonValueKind.String,
                $"{id} has reported its version and certificate");
        }

        var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(Lines(result.Stdout), l => l.StartsWith("[ok] proxy orders-1 (orders): weft ", StringComparison.Ordinal) && l.Contains("acknowledged"));
        Assert.Contains(Lines(result.Stdout), l => l.StartsWith("[ok] proxy web-1 (web): weft ", StringComparison.Ordinal) && l.Contains("certificate until"));
        Assert.DoesNotContain("[FAIL]", result.Stdout);
        Assert.DoesNotContain("[warn]", result.Stdout);
    }

    [Fact]
    public async Task Check_SidecarKilled_RedWithTheFix()
    {
        var app = await _mesh.StartAppAsync("billing-app");
        using var proxy = await ProxyProcess.StartAsync(Addr, "billing", "billing-1", app.Port);
        await MeshFixture.WaitUntilAsync(async () =>
        {
            proxy.ThrowIfExited();
            return (await _mesh.Api.GetStringAsync("/v1/weft/proxies")).Contains("\"billing-1\"");
        }, "weft proxy is on the stream", TimeSpan.FromSeconds(60));
        var healthy = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", Addr);
        Assert.True(healthy.ExitCode == 0, healthy.ToString());

        // A crash: no deregistration, the instance stays in the catalog without its sidecar.
        await proxy.KillAsync();
        await MeshFixture.WaitUntilAsync(async () => !(await _mesh.Api.GetStringAsync("/v1/weft/proxies")).Contains("\"billing-1\""),
            "the server notices the stream is gone");

        var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", Addr);

        Assert.True(result.ExitCode == 6, result.ToString());
        var lines = Lines(result.Stdout);
        var red = lines.FindIndex(l => l == "[FAIL] proxy billing-1 (billing): registered by a sidecar that is not connected to the server");
        Assert.True(red >= 0, result.ToString());
        Assert.Equal("    fix: start its sidecar again (weft proxy --service billing ...), or remove the instance: weft deregister billing-1", lines[red + 1]);
    }

    [Fact]
    public async Task Check_SidecarFrozen_RedAsStaleWithTheFix()
    {
        var app = await _mesh.StartAppAsync("ledger-app");
        using var proxy = await ProxyProcess.StartAsync(Addr, "ledger", "ledger-1", app.Port);
        await MeshFixture.WaitUntilAsync(async () =>
        {
            proxy.ThrowIfExited();
            return (await ProxyAsync("ledger-1"))?.TryGetProperty("LastStatsReport", out var last) == true && last.ValueKind == JsonValueKind.String;
        }, "weft proxy reports its stats", TimeSpan.FromSeconds(60));

        // SIGSTOP: the process and its TCP connection stay, but nothing is sent any more, as with a hung sidecar.
        proxy.Signal("STOP");
        await MeshFixture.WaitUntilAsync(async () =>
            await ProxyAsync("ledger-1") is not { } p
            || DateTimeOffset.UtcNow - p.GetProperty("LastStatsReport").GetDateTimeOffset() > TimeSpan.FromSeconds(11),
            "the last report is older than the stale limit", TimeSpan.FromSeconds(40));

        var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", Addr);
        proxy.Signal("CONT");

        Assert.True(result.ExitCode == 6, result.ToString());
        var lines = Lines(result.Stdout);
        var red = lines.FindIndex(l => l.StartsWith("[FAIL] proxy ledger-1 (ledger): ", StringComparison.Ordinal));
        Assert.True(red >= 0, result.ToString());
        Assert.Matches("stale: last report \\d+ seconds ago|registered by a sidecar that is not connected", lines[red]);
        Assert.StartsWith("    fix: ", lines[red + 1]);
    }

    private async Task<JsonElement?> ProxyAsync(string id)
    {
        using var proxies = JsonDocument.Parse(await _mesh.Api.GetStringAsync("/v1/weft/proxies"));
        foreach (var p in proxies.RootElement.EnumerateArray())
            if (p.GetProperty("ProxyID").GetString() == id) return p.Clone();
        return null;
    }

    /// <summary>A real <c>weft proxy</c> process, so the test can crash or freeze it as production would.</summary>
    private sealed class ProxyProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private ProxyProcess(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public static Task<ProxyProcess> StartAsync(string server, string service, string id, int appPort)
        {
            var start = WeftProxyLauncher.StartInfo(
            [
                "--server", server, "--service", service, "--id", id,
                "--app-addr", $"127.0.0.1:{appPort}", "--inbound-addr", $"127.0.0.1:{FreePort()}",
                "--outbound-addr", $"127.0.0.1:{FreePort()}", "--admin-addr", $"127.0.0.1:{FreePort()}",
            ]);
            start.Environment.Remove("WEFT_ACL_TOKEN");
            start.Environment.Remove("WEFT_HTTP_ADDR");
            return Task.FromResult(new ProxyProcess(Process.Start(start)!));
        }

        public void ThrowIfExited()
        {
            if (_process.HasExited)
                lock (_output) Assert.Fail($"weft proxy exited with {_process.ExitCode}:\n{_output}");
        }

        public void Signal(string signal)
        {
            using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        public async Task KillAsync()
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                Signal("CONT");
                _process.Kill();
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }

    private static List<string> Lines(string text) => [.. text.Split('\n').Select(l => l.TrimEnd('\r', ' '))];

    private static string[] Columns(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
