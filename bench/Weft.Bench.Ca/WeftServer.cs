using System.Net;
using System.Text.Json;

namespace Weft.Bench.Ca;

/// <summary>One <c>weft server --dev-open</c> on free loopback ports with a temp data dir; its CA made on first start.</summary>
internal sealed class WeftServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private WeftServer(ChildProcess process, Uri api)
    {
        _process = process;
        Api = api;
    }

    public Uri Api { get; }

    public int Pid => _process.Pid;

    public string TrustDomain { get; private set; } = "";

    public Uri Grpc { get; private set; } = null!;

    public static async Task<WeftServer> StartAsync(string weftDll, string workDir)
    {
        var port = ChildProcess.FreeLoopbackPort();
        var grpc = ChildProcess.FreeLoopbackPort();
        var dataDir = Directory.CreateDirectory(Path.Combine(workDir, "weft-data")).FullName;
        var process = ChildProcess.Start("weft server", "dotnet",
            [weftDll, "server", "--dev-open", "--data-dir", dataDir, "--http-addr", $"127.0.0.1:{port}", "--grpc-addr", $"127.0.0.1:{grpc}",
             "--log-level", "warn", "--node-name", "bench"],
            workDir, Path.Combine(workDir, "weft-server.log"));
        var server = new WeftServer(process, new Uri($"http://127.0.0.1:{port}")) { Grpc = new Uri($"http://127.0.0.1:{grpc}") };
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            await process.WaitUntilAsync(async () =>
            {
                using var response = await http.GetAsync(new Uri(server.Api, "/v1/connect/ca/roots")).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
                // A first request that outlasts its timeout on a loaded machine is asked again, as a refused one is.
                if (response is null) return false;
                if (response.StatusCode != HttpStatusCode.OK) return false;
                using var roots = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                server.TrustDomain = roots.RootElement.GetProperty("TrustDomain").GetString() ?? "";
                return server.TrustDomain.Length > 0;
            }, TimeSpan.FromSeconds(60), "its CA roots on /v1/connect/ca/roots");
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>utime + stime of the server so far, in seconds (clock ticks of 10 ms).</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
