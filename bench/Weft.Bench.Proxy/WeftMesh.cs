using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>
/// A control plane and two sidecars, shared by the two weft targets so both stay up and alternate with the
/// others. <c>backend</c> is registered through the API with no sidecar (one hop: client sidecar → nginx);
/// <c>backend-meshed</c> is the same nginx behind its own sidecar (two hops: client sidecar → server sidecar →
/// nginx). Two names rather than re-registering one, so the rounds can alternate without restarting anything.
/// </summary>
internal sealed class WeftMesh : IAsyncDisposable
{
    public const string PlainService = "backend";
    public const string MeshedService = "backend-meshed";

    /// <summary>With <c>--mtls</c>: the same nginx behind a sidecar that speaks h2c to other sidecars (<c>--insecure-plaintext-mesh</c>).</summary>
    public const string PlaintextMeshedService = "backend-plaintext";

    /// <summary>
    /// The same nginx behind a sidecar run with <c>WEFT_INBOUND_FAST=0</c> (the inbound leg to the app on YARP and
    /// <c>SocketsHttpHandler</c>, as before the inbound app client): the two-hop A/B in the same run, same client sidecar.
    /// </summary>
    public const string YarpInboundService = "backend-meshed-yarp";

    /// <summary>
    /// With <c>--mtls</c>: the same nginx behind a sidecar run with <c>WEFT_FAST_H2_SERVER=0</c>, so the own h2 client's
    /// connections are served by Kestrel there: the default client sidecar to it against "weft 2 hops" (both ends ours).
    /// </summary>
    public const string KestrelH2Service = "backend-meshed-kestrel-h2";
    private readonly List<ChildProcess> _processes = [];
    private readonly string _dataDir;

    private WeftMesh(string dataDir) => _dataDir = dataDir;

    /// <summary>Why weft cannot be measured with this build, or null when it can.</summary>
    public string? Unavailable { get; private set; }

    public ChildProcess? ClientSidecar { get; private set; }

    public ChildProcess? ServerSidecar { get; private set; }

    /// <summary>The server sidecar of <see cref="YarpInboundService"/>: <see cref="ServerSidecar"/> with <c>WEFT_INBOUND_FAST=0</c>.</summary>
    public ChildProcess? YarpInboundSidecar { get; private set; }

    public int ClientOutboundPort { get; private set; }

    /// <summary>
    /// The one-hop client sidecar: its own process, carrying only one-hop load like the metrics-off, traced and AOT
    /// variants it is compared with. (It used to be <see cref="ClientSidecar"/>, which also carries the two-hop load
    /// on its layered path; its thread pool grown by that load made its one-hop CPU 20-30% above the dedicated
    /// variants' in the same run, so "metrics on vs off" measured the sharing, not the metrics.)
    /// </summary>
    public ChildProcess? OneHopSidecar { get; private set; }

    public int OneHopOutboundPort { get; private set; }

    /// <summary>A second client sidecar, the same but run with <c>--metrics off</c>: what counting costs, in the same run.</summary>
    public ChildProcess? NoMetricsSidecar { get; private set; }

    public int NoMetricsOutboundPort { get; private set; }

    /// <summary>Why the metrics-off target cannot run (this build has no <c>--metrics</c>), or null.</summary>
    public string? NoMetricsUnavailable { get; private set; }

    /// <summary>A client sidecar run with <c>--fast-path off</c>: the layered path (Kestrel + YARP) in the same run.</summary>
    public ChildProcess? NoFastPathSidecar { get; private set; }

    public int NoFastPathOutboundPort { get; private set; }

    /// <summary>Why the fast-path-off target cannot run (this build has no <c>--fast-path</c>), or null.</summary>
    public string? NoFastPathUnavailable { get; private set; }

    /// <summary>A second client sidecar, identical but tracing 1% of requests (spans exported to the backend nginx, which answers 200).</summary>
    public ChildProcess? TracedClientSidecar { get; private set; }

    public int TracedClientOutboundPort { get; private set; }

    /// <summary>
    /// A second two-hop client sidecar run with <c>WEFT_FAST_PATH_SIDECARS=0</c>, to the same backend sidecar: its calls to
    /// the sidecar take the layered path (Kestrel's HTTP/1.1 server and YARP), as before the fast path carried them.
    /// </summary>
    public ChildProcess? LayeredClientSidecar { get; private set; }

    public int LayeredClientOutboundPort { get; private set; }

    /// <summary>
    /// With <c>--mtls</c>: a two-hop client sidecar run with <c>WEFT_FAST_H2=0</c>, to the same backend sidecar: its hop
    /// goes through SocketsHttpHandler (to Kestrel there, as the connections are not the own client's) instead of the
    /// default own HTTP/2 client.
    /// </summary>
    public ChildProcess? SocketsH2ClientSidecar { get; private set; }

    public int SocketsH2ClientOutboundPort { get; private set; }

    /// <summary>With <c>--mtls</c>: the server sidecar of <see cref="KestrelH2Service"/> (<c>WEFT_FAST_H2_SERVER=0</c>).</summary>
    public ChildProcess? KestrelH2ServerSidecar { get; private set; }

    /// <summary>With <c>--mtls</c>: a client sidecar and a backend sidecar, both <c>--insecure-plaintext-mesh</c> (h2c between them).</summary>
    public ChildProcess? PlaintextClientSidecar { get; private set; }

    public ChildProcess? PlaintextServerSidecar { get; private set; }

    public int PlaintextClientOutboundPort { get; private set; }

    /// <summary>With <c>--weft-aot</c>: a client sidecar from the Native AOT build, otherwise the same as <see cref="ClientSidecar"/>'s one-hop path.</summary>
    public ChildProcess? AotClientSidecar { get; private set; }

    public int AotClientOutboundPort { get; private set; }

    /// <summary>With <c>--knobs</c>: one client sidecar per launch, in the order of <see cref="BenchContext.Knobs"/>.</summary>
    public List<(SidecarLaunch Launch, ChildProcess Process, int OutboundPort)> KnobSidecars { get; } = [];

    /// <summary>
    /// With <c>--mtls --knob</c>: per launch of <see cref="BenchContext.PairKnobs"/>, in order, a server sidecar in front of
    /// the same nginx registered as <c>Service</c> and a client sidecar with an upstream to it, both started with the launch.
    /// </summary>
    public List<(SidecarLaunch Launch, string Service, ChildProcess Client, ChildProcess Server, int OutboundPort)> KnobPairs { get; } = [];

    /// <summary>Checks that this build has <c>weft proxy</c>; starts nothing if it has not.</summary>
    public static async Task<WeftMesh> StartAsync(BenchContext ctx, Backend backend, Action<string> progress)
    {
        var mesh = new WeftMesh(Path.Combine(ctx.WorkDir, "weft-data"));
        var proxyHelp = await Tool.RunAsync("dotnet", [ctx.WeftDll, "proxy", "--help"], ctx.WorkDir, TimeSpan.FromSeconds(60));
        if (proxyHelp.ExitCode != 0 || !proxyHelp.Output.Contains("--outbound-addr", StringComparison.Ordinal))
        {
            mesh.Unavailable = "not available yet: this build has no `weft proxy`";
            return mesh;
        }

        if (!proxyHelp.Output.Contains("--metrics", StringComparison.Ordinal))
            mesh.NoMetricsUnavailable = "not available yet: this build has no `weft proxy --metrics`";

        if (!proxyHelp.Output.Contains("--fast-path", StringComparison.Ordinal))
            mesh.NoFastPathUnavailable = "not available: this build has no `weft proxy --fast-path`";

        try
        {
            await mesh.StartProcessesAsync(ctx, backend, progress);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException)
        {
            // Reported as the weft rows' reason; whatever did start is stopped with the mesh.
            mesh.Unavailable = $"failed to start: {e.Message.Split('\n')[0]}";
            progress($"weft {mesh.Unavailable}{Environment.NewLine}{e.Message}");
        }

        return mesh;
    }

    private async Task StartProcessesAsync(BenchContext ctx, Backend backend, Action<string> progress)
    {
        var serverHelp = await Tool.RunAsync("dotnet", [ctx.WeftDll, "server", "--help"], ctx.WorkDir, TimeSpan.FromSeconds(60));
        var httpPort = ChildProcess.FreeLoopbackPort();
        List<string> serverArgs = [ctx.WeftDll, "server", "--dev-open", "--data-dir", _dataDir, "--http-addr", $"127.0.0.1:{httpPort}",
            "--log-level", "warn", "--node-name", "bench"];
        if (serverHelp.Output.Contains("--grpc-addr", StringComparison.Ordinal))
            serverArgs.AddRange(["--grpc-addr", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}"]);
        // weft server denies calls between sidecars unless an intention allows them (issue 4); the bench measures forwarding.
        if (serverHelp.Output.Contains("--default-allow", StringComparison.Ordinal))
            serverArgs.Add("--default-allow");
        var server = Track(ChildProcess.Start("weft server", "dotnet", serverArgs, ctx.WorkDir, Path.Combine(ctx.WorkDir, "weft-server.log")));
        var api = new Uri($"http://127.0.0.1:{httpPort}");
        using var http = BenchContext.Client(TimeSpan.FromSeconds(5));
        await server.WaitUntilAsync(async () =>
        {
            using var response = await http.GetAsync(new Uri(api, "/v1/status/leader"));
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(60), "answer on /v1/status/leader");

        using (var register = await http.PutAsJsonAsync(new Uri(api, "/v1/agent/service/register"),
            new JsonObject { ["ID"] = "backend-1", ["Name"] = PlainService, ["Address"] = "127.0.0.1", ["Port"] = backend.Port }))
            register.EnsureSuccessStatusCode();
        progress($"weft: control plane on {httpPort}, {PlainService} registered at nginx {backend.Port} without a sidecar");
        if (ctx.Knobs is { } launches)
        {
            for (var i = 0; i < launches.Count; i++)
            {
                var port = ChildProcess.FreeLoopbackPort();
                var sidecar = Track(await StartSidecarAsync(ctx, http, api, $"client-knob-{i}", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
                    ChildProcess.FreeLoopbackPort(), port, [(PlainService, backend.Port)], launch: launches[i]));
                KnobSidecars.Add((launches[i], sidecar, port));
                progress($"weft: knob sidecar \"{launches[i].Name}\" ready, outbound on {port} ({launches[i].Describe()})");
            }

            return;
        }

        var serverInbound = ChildProcess.FreeLoopbackPort();
        ServerSidecar = Track(await StartSidecarAsync(ctx, http, api, MeshedService, $"127.0.0.1:{backend.Port}", serverInbound,
            ChildProcess.FreeLoopbackPort(), null));
        var yarpInbound = ChildProcess.FreeLoopbackPort();
        YarpInboundSidecar = Track(await StartSidecarAsync(ctx, http, api, YarpInboundService, $"127.0.0.1:{backend.Port}", yarpInbound,
            ChildProcess.FreeLoopbackPort(), null, launch: SidecarLaunch.Baseline(ctx) with
            {
                Name = "inbound YARP",
                Variables = new Dictionary<string, string> { ["WEFT_INBOUND_FAST"] = "0" },
            }));
        // With --mtls, the same nginx behind a server sidecar whose own HTTP/2 server is off, reached by the default client sidecar.
        var kestrelH2Inbound = 0;
        if (ctx.Mtls)
        {
            kestrelH2Inbound = ChildProcess.FreeLoopbackPort();
            KestrelH2ServerSidecar = Track(await StartSidecarAsync(ctx, http, api, KestrelH2Service, $"127.0.0.1:{backend.Port}", kestrelH2Inbound,
                ChildProcess.FreeLoopbackPort(), null, launch: SidecarLaunch.Baseline(ctx) with
                {
                    Name = "Kestrel h2 server",
                    Variables = new Dictionary<string, string> { ["WEFT_FAST_H2_SERVER"] = "0" },
                }));
        }

        ClientOutboundPort = ChildProcess.FreeLoopbackPort();
        // The client's app address is a port nothing listens on: no load goes to the client app.
        List<(string Service, int Port)> clientUpstreams = [(PlainService, backend.Port), (MeshedService, serverInbound), (YarpInboundService, yarpInbound)];
        if (ctx.Mtls)
            clientUpstreams.Add((KestrelH2Service, kestrelH2Inbound));
        ClientSidecar = Track(await StartSidecarAsync(ctx, http, api, "client", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
            ChildProcess.FreeLoopbackPort(), ClientOutboundPort, [.. clientUpstreams]));
        LayeredClientOutboundPort = ChildProcess.FreeLoopbackPort();
        LayeredClientSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-layered", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
            ChildProcess.FreeLoopbackPort(), LayeredClientOutboundPort, [(MeshedService, serverInbound)],
            launch: SidecarLaunch.Baseline(ctx) with { Variables = new Dictionary<string, string> { ["WEFT_FAST_PATH_SIDECARS"] = "0" } }));
        if (ctx.Mtls)
        {
            SocketsH2ClientOutboundPort = ChildProcess.FreeLoopbackPort();
            SocketsH2ClientSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-sockets-h2", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
                ChildProcess.FreeLoopbackPort(), SocketsH2ClientOutboundPort, [(MeshedService, serverInbound)],
                launch: SidecarLaunch.Baseline(ctx) with { Name = "SocketsHttpHandler h2 client", Variables = new Dictionary<string, string> { ["WEFT_FAST_H2"] = "0" } }));
            // The two-hop path again, with plaintext (h2c) between the two sidecars: what mTLS costs, in the same run.
            const string insecure = "--insecure-plaintext-mesh";
            var plainInbound = ChildProcess.FreeLoopbackPort();
            PlaintextServerSidecar = Track(await StartSidecarAsync(ctx, http, api, PlaintextMeshedService, $"127.0.0.1:{backend.Port}", plainInbound,
                ChildProcess.FreeLoopbackPort(), null, [insecure]));
            PlaintextClientOutboundPort = ChildProcess.FreeLoopbackPort();
            PlaintextClientSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-plaintext", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
                ChildProcess.FreeLoopbackPort(), PlaintextClientOutboundPort, [(PlaintextMeshedService, plainInbound)], [insecure]));
            progress($"weft: sidecars ready, mTLS client outbound on {ClientOutboundPort} ({MeshedService} inbound {serverInbound}), " +
                $"plaintext client outbound on {PlaintextClientOutboundPort} ({PlaintextMeshedService} inbound {plainInbound})");
            foreach (var launch in ctx.PairKnobs ?? [])
            {
                var service = $"{MeshedService}-knob-{KnobPairs.Count}";
                var inbound = ChildProcess.FreeLoopbackPort();
                var serverSidecar = Track(await StartSidecarAsync(ctx, http, api, service, $"127.0.0.1:{backend.Port}", inbound,
                    ChildProcess.FreeLoopbackPort(), null, launch: launch));
                var outbound = ChildProcess.FreeLoopbackPort();
                var client = Track(await StartSidecarAsync(ctx, http, api, $"client-knob-{KnobPairs.Count}", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
                    ChildProcess.FreeLoopbackPort(), outbound, [(service, inbound)], launch: launch));
                KnobPairs.Add((launch, service, client, serverSidecar, outbound));
                progress($"weft: knob pair \"{launch.Name}\" ready, client outbound on {outbound} ({service} inbound {inbound}; {launch.Describe()})");
            }

            return;
        }

        OneHopOutboundPort = ChildProcess.FreeLoopbackPort();
        OneHopSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-onehop", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
            ChildProcess.FreeLoopbackPort(), OneHopOutboundPort, [(PlainService, backend.Port)]));
        if (NoMetricsUnavailable is null)
        {
            NoMetricsOutboundPort = ChildProcess.FreeLoopbackPort();
            NoMetricsSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-nometrics", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
                ChildProcess.FreeLoopbackPort(), NoMetricsOutboundPort, [(PlainService, backend.Port)], ["--metrics", "off"]));
        }
        if (NoFastPathUnavailable is null)
        {
            NoFastPathOutboundPort = ChildProcess.FreeLoopbackPort();
            NoFastPathSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-nofastpath", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
                ChildProcess.FreeLoopbackPort(), NoFastPathOutboundPort, [(PlainService, backend.Port)], ["--fast-path", "off"]));
        }
        if (ctx.WeftAot is { } aot)
        {
            AotClientOutboundPort = ChildProcess.FreeLoopbackPort();
            AotClientSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-aot", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
                ChildProcess.FreeLoopbackPort(), AotClientOutboundPort, [(PlainService, backend.Port)],
                launch: new SidecarLaunch("aot", aot, [], new Dictionary<string, string>())));
        }

        TracedClientOutboundPort = ChildProcess.FreeLoopbackPort();
        TracedClientSidecar = Track(await StartSidecarAsync(ctx, http, api, "client-traced", $"127.0.0.1:{ChildProcess.FreeLoopbackPort()}",
            ChildProcess.FreeLoopbackPort(), TracedClientOutboundPort, [(PlainService, backend.Port)],
            ["--otlp-endpoint", $"http://127.0.0.1:{backend.Port}/v1/traces", "--trace-sampling", "0.01"]));
        progress($"weft: sidecars ready, one-hop client outbound on {OneHopOutboundPort}, two-hop client outbound on {ClientOutboundPort}, {MeshedService} sidecar inbound on {serverInbound}, traced client outbound on {TracedClientOutboundPort}");
    }

    /// <summary>Starts a sidecar and waits until /ready is 200 and /clusters lists each expected (service, port).</summary>
    private static async Task<ChildProcess> StartSidecarAsync(BenchContext ctx, HttpClient http, Uri api, string service, string appAddr,
        int inbound, int? outbound, (string Service, int Port)[]? expected, string[]? extra = null, SidecarLaunch? launch = null)
    {
        var admin = new Uri($"http://127.0.0.1:{ChildProcess.FreeLoopbackPort()}");
        launch ??= SidecarLaunch.Baseline(ctx);
        var process = ChildProcess.Start($"weft proxy ({service})", launch.Executable,
            [.. launch.PrefixArgs, "proxy", "--server", api.ToString().TrimEnd('/'), "--service", service, "--app-addr", appAddr,
             "--inbound-addr", $"127.0.0.1:{inbound}", "--outbound-addr", $"127.0.0.1:{outbound ?? ChildProcess.FreeLoopbackPort()}",
             "--admin-addr", $"127.0.0.1:{admin.Port}", "--log-level", "warn", "--drain-time", "1s", .. extra ?? [], .. launch.ProxyArgs],
            ctx.WorkDir, Path.Combine(ctx.WorkDir, $"weft-proxy-{service}.log"), launch.Variables);
        await process.WaitUntilAsync(async () =>
        {
            using var ready = await http.GetAsync(new Uri(admin, "/ready"));
            if (ready.StatusCode != HttpStatusCode.OK) return false;
            if (expected is null) return true;
            var clusters = await http.GetStringAsync(new Uri(admin, "/clusters"));
            return expected.All(e => clusters.Contains(e.Service, StringComparison.Ordinal) && clusters.Contains($"127.0.0.1:{e.Port}", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(60), expected is null ? "/ready" : "/ready and its upstreams on /clusters");
        return process;
    }

    private ChildProcess Track(ChildProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        // Sidecars first (they deregister on SIGTERM), the control plane last.
        for (var i = _processes.Count - 1; i >= 0; i--) await _processes[i].DisposeAsync();
        if (Directory.Exists(_dataDir)) Directory.Delete(_dataDir, recursive: true);
    }
}

/// <summary>
/// Load through sidecars of the bench's <see cref="WeftMesh"/>: every case is the client's outbound listener with a
/// Host header naming the upstream; the factories below differ only in which sidecar, which upstream, and whose CPU counts.
/// </summary>
internal sealed class WeftTarget : Target
{
    public const string OneHopName = "weft 1 hop";
    public const string NoMetricsName = "weft 1 hop, metrics off";
    public const string NoFastPathName = "weft 1 hop (no fast path)";
    public const string TwoHopsName = "weft 2 hops";
    public const string TracedName = "weft 1 hop traced 1%";
    public const string PlaintextName = "weft 2 hops, plaintext";
    public const string LayeredTwoHopsName = "weft 2 hops (layered client)";
    public const string AotName = "weft 1 hop (AOT)";
    public const string YarpInboundName = "weft 2 hops (inbound YARP)";
    public const string SocketsH2TwoHopsName = "weft 2 hops (WEFT_FAST_H2=0)";
    public const string KestrelH2TwoHopsName = "weft 2 hops (WEFT_FAST_H2_SERVER=0)";

    /// <summary>The target of a <c>--mtls --knob</c> pair: "weft 2 hops: NAME".</summary>
    public static string TwoHopsKnobName(string knob) => $"{TwoHopsName}: {knob}";

    private readonly Func<string?> _unavailable;
    private readonly Func<List<int>> _pids;

    private WeftTarget(string name, int hops, int outboundPort, string host, Func<string?> unavailable, Func<List<int>> pids)
    {
        Name = name;
        Hops = hops;
        _unavailable = unavailable;
        _pids = pids;
        if (Unavailable is not null) return;
        Http1 = new Uri($"http://127.0.0.1:{outboundPort}/");
        H2c = Http1;
        Host = host;
    }

    /// <summary>Client → the one-hop client sidecar's outbound listener (Host: backend) → nginx registered without a sidecar.</summary>
    public static WeftTarget OneHop(WeftMesh mesh) =>
        new(OneHopName, 1, mesh.OneHopOutboundPort, WeftMesh.PlainService, () => mesh.Unavailable, () => Pids(mesh.OneHopSidecar));

    /// <summary>As <see cref="OneHop"/>, through a sidecar started with <c>--metrics off</c>.</summary>
    public static WeftTarget OneHopNoMetrics(WeftMesh mesh) =>
        new(NoMetricsName, 1, mesh.NoMetricsOutboundPort, WeftMesh.PlainService, () => mesh.Unavailable ?? mesh.NoMetricsUnavailable, () => Pids(mesh.NoMetricsSidecar));

    /// <summary>As <see cref="OneHop"/>, through a sidecar started with <c>--fast-path off</c>: Kestrel's HTTP/1.1 and YARP.</summary>
    public static WeftTarget OneHopNoFastPath(WeftMesh mesh) =>
        new(NoFastPathName, 1, mesh.NoFastPathOutboundPort, WeftMesh.PlainService, () => mesh.Unavailable ?? mesh.NoFastPathUnavailable, () => Pids(mesh.NoFastPathSidecar));

    /// <summary>
    /// Client → client sidecar outbound → backend's sidecar inbound → nginx; the hop between them is the default pair,
    /// Weft's own HTTP/2 client and server (for HTTP/1.1 callers, which take the fast path).
    /// </summary>
    public static WeftTarget TwoHops(WeftMesh mesh) =>
        new(TwoHopsName, 2, mesh.ClientOutboundPort, WeftMesh.MeshedService, () => mesh.Unavailable, () => Pids(mesh.ClientSidecar, mesh.ServerSidecar));

    /// <summary>As <see cref="TwoHops"/>, through a client sidecar whose calls to sidecars take the layered path (<c>WEFT_FAST_PATH_SIDECARS=0</c>).</summary>
    public static WeftTarget TwoHopsLayered(WeftMesh mesh) =>
        new(LayeredTwoHopsName, 2, mesh.LayeredClientOutboundPort, WeftMesh.MeshedService, () => mesh.Unavailable, () => Pids(mesh.LayeredClientSidecar, mesh.ServerSidecar));

    /// <summary>
    /// As <see cref="TwoHops"/>, through a client sidecar run with <c>WEFT_FAST_H2=0</c> (<c>--mtls</c> runs): its hop goes
    /// through SocketsHttpHandler to the server sidecar's Kestrel, the pair before the own HTTP/2 became the default.
    /// </summary>
    public static WeftTarget TwoHopsSocketsH2(WeftMesh mesh) =>
        new(SocketsH2TwoHopsName, 2, mesh.SocketsH2ClientOutboundPort, WeftMesh.MeshedService, () => mesh.Unavailable, () => Pids(mesh.SocketsH2ClientSidecar, mesh.ServerSidecar));

    /// <summary>
    /// As <see cref="TwoHops"/> (the same client sidecar, its own HTTP/2 client), to a server sidecar with
    /// <c>WEFT_FAST_H2_SERVER=0</c> (<c>--mtls</c> runs): Kestrel serves the hop, so this against "weft 2 hops" is the own server's share.
    /// </summary>
    public static WeftTarget TwoHopsKestrelH2(WeftMesh mesh) =>
        new(KestrelH2TwoHopsName, 2, mesh.ClientOutboundPort, WeftMesh.KestrelH2Service, () => mesh.Unavailable, () => Pids(mesh.ClientSidecar, mesh.KestrelH2ServerSidecar));

    /// <summary>As <see cref="TwoHops"/>, the server sidecar forwarding to nginx with YARP (<c>WEFT_INBOUND_FAST=0</c>): the before of the A/B.</summary>
    public static WeftTarget TwoHopsInboundYarp(WeftMesh mesh) =>
        new(YarpInboundName, 2, mesh.ClientOutboundPort, WeftMesh.YarpInboundService, () => mesh.Unavailable, () => Pids(mesh.ClientSidecar, mesh.YarpInboundSidecar));

    /// <summary>As <see cref="OneHop"/>, through a client sidecar tracing 1% of requests: the cost of tracing.</summary>
    public static WeftTarget TracedOneHop(WeftMesh mesh) =>
        new(TracedName, 1, mesh.TracedClientOutboundPort, WeftMesh.PlainService, () => mesh.Unavailable, () => Pids(mesh.TracedClientSidecar));

    /// <summary>As <see cref="TwoHops"/>, between two sidecars run with <c>--insecure-plaintext-mesh</c> (h2c, no TLS).</summary>
    public static WeftTarget TwoHopsPlaintext(WeftMesh mesh) =>
        new(PlaintextName, 2, mesh.PlaintextClientOutboundPort, WeftMesh.PlaintextMeshedService, () => mesh.Unavailable,
            () => Pids(mesh.PlaintextClientSidecar, mesh.PlaintextServerSidecar));

    /// <summary>As <see cref="OneHop"/>, through a sidecar from the Native AOT build (run.sh <c>--aot</c>).</summary>
    public static WeftTarget OneHopAot(WeftMesh mesh) =>
        new(AotName, 1, mesh.AotClientOutboundPort, WeftMesh.PlainService, () => mesh.Unavailable, () => Pids(mesh.AotClientSidecar));

    /// <summary>With <c>--knobs</c>: client → the knob sidecar's outbound listener (Host: backend) → nginx.</summary>
    public static WeftTarget Knob(WeftMesh mesh, int index) =>
        new(KnobRun.TargetName(mesh.KnobSidecars[index].Launch), 1, mesh.KnobSidecars[index].OutboundPort, WeftMesh.PlainService,
            () => mesh.Unavailable, () => Pids(mesh.KnobSidecars[index].Process));

    /// <summary>
    /// With <c>--mtls --knob</c>: client → the knob pair's client sidecar outbound (Host: its own service) → its server
    /// sidecar → nginx, both sidecars started with the knob: against <see cref="TwoHops"/>, the knob on both ends of the hop.
    /// </summary>
    public static WeftTarget TwoHopsKnob(WeftMesh mesh, int index) =>
        new(TwoHopsKnobName(mesh.KnobPairs[index].Launch.Name), 2, mesh.KnobPairs[index].OutboundPort, mesh.KnobPairs[index].Service,
            () => mesh.Unavailable, () => Pids(mesh.KnobPairs[index].Client, mesh.KnobPairs[index].Server));

    public override string Name { get; }

    public override int Hops { get; }

    public override string? Unavailable => _unavailable();

    /// <summary>Every sidecar's pid, or none until all of them run.</summary>
    public override List<int> ProxyPids() => _pids();

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static List<int> Pids(params ChildProcess?[] sidecars) =>
        sidecars.All(s => s is not null) ? [.. sidecars.Select(s => s!.Pid)] : [];
}
