using System.Net;
using System.Text.Json;

namespace Weft.Bench;

/// <summary>
/// One <c>weft server</c> on free loopback ports with a temp data dir, started as the bench asks: with ACLs on (as an
/// operator starts it: the server makes its management token in the data dir, and every request carries it) or
/// <c>--dev-open</c>. Ready when its CA roots answer, so the trust domain is known; its CA is made on first start.
/// </summary>
internal sealed class WeftServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private WeftServer(ChildProcess process, Uri api, Uri grpc, string token, string trustDomain)
    {
        _process = process;
        Api = api;
        Grpc = grpc;
        Token = token;
        TrustDomain = trustDomain;
    }

    public Uri Api { get; }

    public Uri Grpc { get; }

    /// <summary>The management token the server wrote to DATA_DIR/acl-token; empty under <c>--dev-open</c>.</summary>
    public string Token { get; }

    public string TrustDomain { get; }

    /// <param name="name">Names the data dir and the log, so several servers can share one work dir.</param>
    /// <param name="devOpen">Start with <c>--dev-open</c> (no tokens) rather than with ACLs on.</param>
    public static async Task<WeftServer> StartAsync(string weftDll, string workDir, string name, bool devOpen)
    {
        var port = ChildProcess.FreeLoopbackPort();
        var grpc = ChildProcess.FreeLoopbackPort();
        var dataDir = Directory.CreateDirectory(Path.Combine(workDir, $"weft-data-{name}")).FullName;
        string[] args = [weftDll, "server", "--data-dir", dataDir, "--http-addr", $"127.0.0.1:{port}", "--grpc-addr", $"127.0.0.1:{grpc}",
            "--log-level", "warn", "--node-name", "bench", .. devOpen ? ["--dev-open"] : Array.Empty<string>()];
        var process = ChildProcess.Start("weft server", "dotnet", args, workDir, Path.Combine(workDir, $"weft-server-{name}.log"));
        var api = new Uri($"http://127.0.0.1:{port}");
        var tokenFile = Path.Combine(dataDir, "acl-token");
        string token = "", trustDomain = "";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            await process.WaitUntilAsync(async () =>
            {
                if (!devOpen && token.Length == 0)
                {
                    if (!File.Exists(tokenFile)) return false;
                    token = (await File.ReadAllTextAsync(tokenFile)).Trim();
                    if (token.Length == 0) return false;
                }

                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(api, "/v1/connect/ca/roots"));
                if (token.Length > 0)
                    request.Headers.Add("X-Consul-Token", token);
                // A first request that outlasts its timeout on a loaded machine is asked again, as a refused one is.
                using var response = await http.SendAsync(request).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
                if (response?.StatusCode != HttpStatusCode.OK) return false;
                using var roots = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                trustDomain = roots.RootElement.GetProperty("TrustDomain").GetString() ?? "";
                return trustDomain.Length > 0;
            }, TimeSpan.FromSeconds(90), devOpen ? "its CA roots on /v1/connect/ca/roots" : "its CA roots, asked with the token from DATA_DIR/acl-token");
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return new WeftServer(process, api, new Uri($"http://127.0.0.1:{grpc}"), token, trustDomain);
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
