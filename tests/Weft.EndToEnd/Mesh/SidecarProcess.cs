using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// One <c>weft proxy</c> child process as a user starts it (the JIT build, or <c>$WEFT_PROXY_EXE</c>: see
/// <see cref="WeftProxyLauncher"/>) on loopback ports of its own, with its output captured. Started once it answers
/// <c>/ready</c>; <see cref="TerminateAsync"/> sends SIGTERM as an orchestrator would; dispose kills it by its id.
/// </summary>
internal sealed class SidecarProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();

    private SidecarProcess(Process process, string service, IPEndPoint inbound, IPEndPoint outbound, IPEndPoint admin, IReadOnlyDictionary<string, IPEndPoint> upstreams)
    {
        Process = process;
        Service = service;
        Inbound = inbound;
        Outbound = outbound;
        Admin = admin;
        Upstreams = upstreams;
    }

    public Process Process { get; }

    public string Service { get; }

    public IPEndPoint Inbound { get; }

    public IPEndPoint Outbound { get; }

    public IPEndPoint Admin { get; }

    /// <summary>The <c>--upstream</c> listeners, by upstream service.</summary>
    public IReadOnlyDictionary<string, IPEndPoint> Upstreams { get; }

    /// <summary>What the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <param name="upstreams">Services that get an <c>--upstream</c> listener of their own.</param>
    public static async Task<SidecarProcess> StartAsync(Uri server, string service, int appPort, IEnumerable<string>? upstreams = null, string drainTime = "2s")
    {
        // The ports are free when chosen, but the sidecar binds them only after its first certificate (seconds later), and
        // any process's outgoing connection may take one as its ephemeral port meanwhile: a lost race gets new ports.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(server, service, appPort, upstreams, drainTime);
            }
            catch (PortTakenException) when (attempt < 3)
            {
            }
        }
    }

    private sealed class PortTakenException(string message) : Exception(message);

    private static async Task<SidecarProcess> StartOnceAsync(Uri server, string service, int appPort, IEnumerable<string>? upstreams, string drainTime)
    {
        var loopback = IPAddress.Loopback;
        IPEndPoint inbound = new(loopback, FreePort()), outbound = new(loopback, FreePort()), admin = new(loopback, FreePort());
        var upstreamListeners = (upstreams ?? []).ToDictionary(u => u, _ => new IPEndPoint(loopback, FreePort()));
        List<string> args =
        [
            "--server", server.ToString(), "--service", service, "--id", $"{service}-1", "--app-addr", $"127.0.0.1:{appPort}",
            "--inbound-addr", inbound.ToString(), "--outbound-addr", outbound.ToString(), "--admin-addr", admin.ToString(),
            "--drain-time", drainTime,
        ];
        foreach (var (name, address) in upstreamListeners)
            args.AddRange(["--upstream", $"{name}={address}"]);
        var start = WeftProxyLauncher.StartInfo(args);
        start.Environment.Remove("WEFT_ACL_TOKEN");
        start.Environment.Remove("WEFT_HTTP_ADDR");

        var sidecar = new SidecarProcess(Process.Start(start)!, service, inbound, outbound, admin, upstreamListeners);
        sidecar.Process.OutputDataReceived += (_, e) => sidecar.Append(e.Data);
        sidecar.Process.ErrorDataReceived += (_, e) => sidecar.Append(e.Data);
        sidecar.Process.BeginOutputReadLine();
        sidecar.Process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await MeshFixture.WaitUntilAsync(async () =>
            {
                if (sidecar.Process.HasExited && sidecar.Output.Contains("address already in use", StringComparison.Ordinal))
                    throw new PortTakenException($"weft proxy for {service} lost a port to another process:\n{sidecar.Output}");
                if (sidecar.Process.HasExited) Assert.Fail($"weft proxy for {service} exited with {sidecar.Process.ExitCode}:\n{sidecar.Output}");
                try
                {
                    using var ready = await http.GetAsync($"http://{admin}/ready");
                    return ready.StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, $"weft proxy for {service} is ready", TimeSpan.FromSeconds(60));
        }
        catch
        {
            await sidecar.DisposeAsync();
            throw;
        }

        return sidecar;
    }

    /// <summary>SIGTERM, as <c>kill</c>, systemd or Kubernetes stop a sidecar.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", Process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
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

    private void Append(string? line)
    {
        lock (_output) _output.AppendLine(line);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
