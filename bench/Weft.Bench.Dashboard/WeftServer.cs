using System.Net;

namespace Weft.Bench.Dashboard;

/// <summary>
/// One <c>weft server</c> as an operator starts it: ACLs on (no <c>--dev-open</c>), so it makes its management token in
/// the data dir and the dashboard has to be given that token; free loopback ports, a temp data dir.
/// </summary>
internal sealed class WeftServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private WeftServer(ChildProcess process, Uri api, Uri grpc, string token)
    {
        _process = process;
        Api = api;
        Grpc = grpc;
        Token = token;
    }

    public Uri Api { get; }

    public Uri Grpc { get; }

    /// <summary>The management token the server wrote to DATA_DIR/acl-token, where its start-up line says it is.</summary>
    public string Token { get; }

    public static async Task<WeftServer> StartAsync(string weftDll, string workDir, string name)
    {
        var port = ChildProcess.FreeLoopbackPort();
        var grpc = ChildProcess.FreeLoopbackPort();
        var dataDir = Directory.CreateDirectory(Path.Combine(workDir, $"weft-data-{name}")).FullName;
        var process = ChildProcess.Start("weft server", "dotnet",
            [weftDll, "server", "--data-dir", dataDir, "--http-addr", $"127.0.0.1:{port}", "--grpc-addr", $"127.0.0.1:{grpc}",
             "--log-level", "warn", "--node-name", "bench"],
            workDir, Path.Combine(workDir, $"weft-server-{name}.log"));
        var api = new Uri($"http://127.0.0.1:{port}");
        var tokenFile = Path.Combine(dataDir, "acl-token");
        string token = "";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            await process.WaitUntilAsync(async () =>
            {
                if (token.Length == 0)
                {
                    if (!File.Exists(tokenFile)) return false;
                    token = (await File.ReadAllTextAsync(tokenFile)).Trim();
                    if (token.Length == 0) return false;
                }

                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(api, "/v1/weft/stats?history=false"));
                request.Headers.Add("X-Consul-Token", token);
                // A first request that outlasts its timeout on a loaded machine is asked again, as a refused one is.
                using var response = await http.SendAsync(request).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
                return response?.StatusCode == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(90), "its API answering with the token from DATA_DIR/acl-token");
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return new WeftServer(process, api, new Uri($"http://127.0.0.1:{grpc}"), token);
    }

    /// <summary>utime + stime of the server so far, in seconds (clock ticks of 10 ms).</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{_process.Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
