using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Weft.EndToEnd.Cli;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// Service tokens with real processes: a token-protected <c>weft server</c>, tokens made with <c>weft acl token</c>,
/// and <c>weft proxy</c> sidecars holding them.
/// </summary>
public sealed class ServiceTokenProxyTests : IAsyncLifetime
{
    private WeftServerProcess _server = null!;
    private string _management = "";
    private HttpClient _api = null!;

    public async Task InitializeAsync()
    {
        _server = await WeftServerProcess.StartAsync(open: false);
        _management = (await File.ReadAllTextAsync(Path.Combine(_server.DataDir, "acl-token"))).Trim();
        _api = new HttpClient { BaseAddress = new Uri($"http://{_server.Address}"), Timeout = TimeSpan.FromSeconds(10) };
        _api.DefaultRequestHeaders.Add("X-Consul-Token", _management);
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<CliResult> WeftAsync(params string[] args) =>
        await CliInvocation.RunAsync([.. args, "--http-addr", _server.Address, "--token", _management]);

    private async Task<string> CreateTokenAsync(string service)
    {
        var created = await WeftAsync("acl", "token", "create", "--service", service);
        Assert.True(created.ExitCode == 0, created.ToString());
        return created.Stdout.Trim();
    }

    [Fact]
    public async Task ProxyInsecurePlaintextMesh_ServerNotDevOpen_IsRefusedBeforeListening()
    {
        // Even with the management token: plaintext between sidecars is only for a --dev-open server (the bench's).
        var inbound = FreePort();
        var refused = await CliInvocation.RunProcessAsync(null, "proxy", "--insecure-plaintext-mesh", "--server", $"http://{_server.Address}", "--token", _management,
            "--service", "orders", "--app-addr", $"127.0.0.1:{FreePort()}", "--inbound-addr", $"127.0.0.1:{inbound}",
            "--outbound-addr", $"127.0.0.1:{FreePort()}", "--admin-addr", $"127.0.0.1:{FreePort()}");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("--insecure-plaintext-mesh is refused: the control plane does not run with --dev-open", refused.Stderr);
        using var catalog = await _api.GetAsync("/v1/catalog/service/orders");
        Assert.Equal("[]", (await catalog.Content.ReadAsStringAsync()).Trim());

        static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }

    [Fact]
    public async Task AclTokenCommands_CreateListReadDelete()
    {
        var plain = await WeftAsync("acl", "token", "create", "--service", "orders", "--description", "orders sidecar");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        var secret = plain.Stdout.Trim();
        Assert.True(Guid.TryParse(secret, out _), $"stdout is the SecretID alone: {plain}");

        var json = await WeftAsync("acl", "token", "create", "--service", "payments", "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var token = JsonDocument.Parse(json.Stdout).RootElement;
        var accessor = token.GetProperty("AccessorID").GetString()!;
        Assert.True(Guid.TryParse(token.GetProperty("SecretID").GetString(), out _));
        Assert.Equal("payments", token.GetProperty("ServiceIdentities")[0].GetProperty("ServiceName").GetString());

        var list = await WeftAsync("acl", "token", "list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains(accessor, list.Stdout);
        Assert.Contains("orders sidecar", list.Stdout);
        Assert.Contains("management", list.Stdout);
        Assert.DoesNotContain(secret, list.Stdout);

        var read = await WeftAsync("acl", "token", "read", accessor);
        Assert.True(read.ExitCode == 0, read.ToString());
        Assert.Equal(accessor, JsonDocument.Parse(read.Stdout).RootElement.GetProperty("AccessorID").GetString());
        Assert.DoesNotContain("SecretID", read.Stdout);

        // A service token may not manage tokens: the token exit code, and the server's reason.
        var escalate = await CliInvocation.RunAsync("acl", "token", "create", "--service", "orders", "--http-addr", _server.Address, "--token", secret);
        Assert.True(escalate.ExitCode == 4, escalate.ToString());
        Assert.Contains("acl:write", escalate.Stderr);

        var deleted = await WeftAsync("acl", "token", "delete", accessor);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Equal($"Token deleted: {accessor}\n", deleted.Stdout);

        var gone = await WeftAsync("acl", "token", "read", accessor);
        Assert.True(gone.ExitCode == 1, gone.ToString());
        Assert.Contains("404", gone.Stderr);

        var missingService = await WeftAsync("acl", "token", "create");
        Assert.True(missingService.ExitCode == 2, missingService.ToString());
    }

    [Fact]
    public async Task AProxyWithOrdersToken_ForServicePayments_FailsClearly_AndRegistersNothing()
    {
        var orders = await CreateTokenAsync("orders");
        await using var proxy = ProxyProcess.Start(_server.Address, "payments", "payments-1", orders);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await proxy.Process.WaitForExitAsync(deadline.Token);
        Assert.True(proxy.Process.ExitCode == 1, proxy.Output);
        Assert.Contains("403", proxy.Output);
        Assert.Contains("Permission denied", proxy.Output);
        Assert.Contains("\"payments\"", proxy.Output);
        Assert.Equal(0, JsonDocument.Parse(await _api.GetStringAsync("/v1/catalog/service/payments")).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task DeletingTheToken_ClosesTheProxysStreamWithinSeconds_AndItsReconnectIsRefused()
    {
        var created = await WeftAsync("acl", "token", "create", "--service", "orders", "--json");
        var token = JsonDocument.Parse(created.Stdout).RootElement;
        var (accessor, secret) = (token.GetProperty("AccessorID").GetString()!, token.GetProperty("SecretID").GetString()!);
        await using var proxy = ProxyProcess.Start(_server.Address, "orders", "orders-1", secret);

        await MeshFixture.WaitUntilAsync(async () =>
        {
            if (proxy.Process.HasExited) Assert.Fail($"weft proxy exited with {proxy.Process.ExitCode}:\n{proxy.Output}");
            return (await ProxiesAsync()).Contains("orders-1");
        }, "the proxy's stream is open", TimeSpan.FromSeconds(60));

        var deleted = await WeftAsync("acl", "token", "delete", accessor);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        var watch = Stopwatch.StartNew();
        await MeshFixture.WaitUntilAsync(async () => !(await ProxiesAsync()).Contains("orders-1"),
            "the server closed the stream", TimeSpan.FromSeconds(5));
        await MeshFixture.WaitUntilAsync(() => Task.FromResult(proxy.Output.Contains("ACL not found", StringComparison.Ordinal)),
            $"the proxy's reconnect is refused (closed after {watch.ElapsedMilliseconds} ms)\n{proxy.Output}", TimeSpan.FromSeconds(10));
        Assert.False(proxy.Process.HasExited, "the proxy keeps serving on its last config");
        Assert.DoesNotContain("orders-1", await ProxiesAsync());
    }

    private async Task<List<string>> ProxiesAsync() =>
        JsonDocument.Parse(await _api.GetStringAsync("/v1/weft/proxies")).RootElement.EnumerateArray()
            .Select(p => p.GetProperty("ProxyID").GetString()!).ToList();

    /// <summary>One <c>weft proxy</c> child process with its output captured; killed by its id on dispose.</summary>
    private sealed class ProxyProcess : IAsyncDisposable
    {
        private readonly StringBuilder _output = new();

        private ProxyProcess(Process process) => Process = process;

        public Process Process { get; }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public static ProxyProcess Start(string server, string service, string id, string token)
        {
            var start = WeftProxyLauncher.StartInfo(
            [
                "--server", $"http://{server}", "--service", service, "--id", id, "--token", token,
                "--app-addr", $"127.0.0.1:{FreePort()}", "--inbound-addr", $"127.0.0.1:{FreePort()}",
                "--outbound-addr", $"127.0.0.1:{FreePort()}", "--admin-addr", $"127.0.0.1:{FreePort()}", "--drain-time", "1s",
            ]);
            start.Environment.Remove("WEFT_ACL_TOKEN");
            start.Environment.Remove("WEFT_HTTP_ADDR");
            var proxy = new ProxyProcess(Process.Start(start)!);
            proxy.Process.OutputDataReceived += (_, e) => { lock (proxy._output) proxy._output.AppendLine(e.Data); };
            proxy.Process.ErrorDataReceived += (_, e) => { lock (proxy._output) proxy._output.AppendLine(e.Data); };
            proxy.Process.BeginOutputReadLine();
            proxy.Process.BeginErrorReadLine();
            return proxy;
        }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                await Process.WaitForExitAsync();
            }

            Process.Dispose();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
