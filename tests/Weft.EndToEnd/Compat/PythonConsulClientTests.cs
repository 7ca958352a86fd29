using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Weft.Server.Hosting;

namespace Weft.EndToEnd.Compat;

/// <summary>
/// An existing Consul client library, unchanged, against weft server: Debian's python3-consul registers
/// services and checks, waits on blocking queries, filters on health, deregisters and meets a refused token.
/// </summary>
public sealed class PythonConsulClientTests
{
    private const string Token = "python-compat-token";
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task PythonConsul_RegistersQueriesBlocksAndDeregisters_Unchanged()
    {
        await using var app = await Mesh.MeshFixture.App.StartAsync("ok", behaviour: null);
        await using var server = await StartServerAsync(open: true);

        var seen = await RunClientAsync("flow", "127.0.0.1", server.Port, $"http://127.0.0.1:{app.Port}/health");

        Assert.Equal(["inventory-1", "inventory-2"], Strings(seen.GetProperty("agent_services")));
        Assert.Equal(["v1"], Strings(seen.GetProperty("catalog_services").GetProperty("inventory")));
        Assert.Equal(["inventory-1", "inventory-2"], Strings(seen.GetProperty("http_passing")));
        Assert.Contains("200 OK", seen.GetProperty("http_output").GetString());
        Assert.Equal("critical", seen.GetProperty("ttl_status").GetString());
        Assert.Equal(["inventory-2"], Strings(seen.GetProperty("passing_filter")));
        Assert.True(seen.GetProperty("woken_index_advanced").GetBoolean());
        Assert.Equal(["inventory-1", "inventory-2", "inventory-3"], Strings(seen.GetProperty("after_wake")));
        Assert.False(seen.GetProperty("agent_deregister_via_get").GetBoolean());
        Assert.True(seen.GetProperty("catalog_deregister").GetBoolean());
        Assert.Equal(["inventory-1", "inventory-2"], Strings(seen.GetProperty("after_deregister")));
    }

    [Fact]
    public async Task PythonConsul_WithTheToken_Reads_AndAWrongTokenRaisesItsAclError()
    {
        await using var server = await StartServerAsync(open: false);

        var seen = await RunClientAsync("acl", "127.0.0.1", server.Port, Token);

        Assert.Equal([], Strings(seen.GetProperty("right_token")));
        Assert.Equal("ACLPermissionDenied: ACL not found", seen.GetProperty("wrong_token").GetString());
    }

    private static async Task<TestServer> StartServerAsync(bool open)
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-pycompat-").FullName;
        var server = await WeftServer.StartAsync(new ServerOptions
        {
            DataDir = dataDir,
            HttpEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            GrpcEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            NodeName = "compat-node",
            AclToken = open ? null : Token,
            DevOpen = open,
            LogLevel = LogLevel.Warning,
        });
        return new TestServer(server, dataDir);
    }

    private static async Task<JsonElement> RunClientAsync(params string[] args)
    {
        Assert.True(File.Exists(Python), "Debian's python3 with python3-consul is needed (./test.sh installs it)");
        var script = Path.Combine(AppContext.BaseDirectory, "Compat", "python_consul_client.py");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment.Remove("CONSUL_HTTP_TOKEN");
        start.Environment.Remove("CONSUL_HTTP_ADDR");

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        Assert.True(process.ExitCode == 0, $"python-consul failed:\n{await stderr}");
        return JsonDocument.Parse(await stdout).RootElement.Clone();
    }

    private sealed class TestServer(WeftServer server, string dataDir) : IAsyncDisposable
    {
        public string Port => server.HttpAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        public async ValueTask DisposeAsync()
        {
            await server.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();
}
