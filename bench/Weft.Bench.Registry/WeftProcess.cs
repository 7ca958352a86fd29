using System.Net;

namespace Weft.Bench.Registry;

/// <summary>One <c>weft server --dev-open</c> on a free loopback port with its own temp data dir.</summary>
internal sealed class WeftProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _dataDir;

    private WeftProcess(ChildProcess process, string dataDir, Uri address)
    {
        _process = process;
        _dataDir = dataDir;
        Address = address;
    }

    public Uri Address { get; }

    public int Port => Address.Port;

    public int Pid => _process.Pid;

    public string DataDir => _dataDir;

    public static async Task<WeftProcess> StartAsync(BenchContext ctx, string label)
    {
        var port = ChildProcess.FreeLoopbackPort();
        var dataDir = Directory.CreateDirectory(Path.Combine(ctx.WorkDir, $"weft-{label}")).FullName;
        var process = ChildProcess.Start($"weft server ({label})", "dotnet",
            [ctx.WeftDll, "server", "--dev-open", "--data-dir", dataDir, "--http-addr", $"127.0.0.1:{port}", "--grpc-addr", "127.0.0.1:0", "--log-level", "warn", "--node-name", "bench"],
            ctx.WorkDir, Path.Combine(ctx.WorkDir, $"weft-{label}.log"));
        var weft = new WeftProcess(process, dataDir, new Uri($"http://127.0.0.1:{port}"));
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await process.WaitUntilAsync(async () =>
        {
            using var response = await probe.GetAsync(new Uri(weft.Address, "/v1/status/leader"));
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30), "answer on /v1/status/leader");
        return weft;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }
}
