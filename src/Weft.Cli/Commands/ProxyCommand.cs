using System.Collections.Immutable;
using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Logging;
using Weft.Core.Text;
using Weft.Proxy.Hosting;
using Weft.Proxy.Observability;
using Weft.Proxy.Sidecar;

namespace Weft.Cli.Commands;

/// <summary><c>weft proxy</c>: the sidecar beside one service instance.</summary>
internal static partial class ProxyCommand
{
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "The control plane's HTTP address (default: $WEFT_HTTP_ADDR, else http://127.0.0.1:8500)" };
        var token = new Option<string>("--token") { Description = "ACL token (default: $WEFT_ACL_TOKEN)" };
        var service = new Option<string>("--service") { Description = "The service this sidecar stands beside", Required = true };
        var id = new Option<string>("--id") { Description = "Instance ID (default: SERVICE-<host>-<inbound port>)" };
        var appAddr = new Option<string>("--app-addr") { Description = "The local app, 127.0.0.1:PORT", Required = true };
        var inbound = new Option<string>("--inbound-addr") { Description = "Where peers reach this instance (registered as its address)", DefaultValueFactory = _ => "0.0.0.0:15006" };
        var advertise = new Option<string>("--advertise-addr") { Description = "The IP registered for this instance (default: the inbound address, or 127.0.0.1 when it is 0.0.0.0)" };
        var outbound = new Option<string>("--outbound-addr") { Description = "HTTP routed by Host (the upstream service's name)", DefaultValueFactory = _ => "127.0.0.1:15001" };
        var upstreams = new Option<string[]>("--upstream") { Description = "NAME=127.0.0.1:PORT: a local listener for one upstream (repeatable)", AllowMultipleArgumentsPerToken = false };
        var admin = new Option<string>("--admin-addr") { Description = "/ready, /config, /clusters, /stats, /metrics (registered as Meta weft-admin)", DefaultValueFactory = _ => "127.0.0.1:15000" };
        var checkHttp = new Option<string>("--check-http") { Description = "Check the app with HTTP GET on this path" };
        var checkTcp = new Option<bool>("--check-tcp") { Description = "Check the app with a TCP connect" };
        var checkInterval = new Option<string>("--check-interval") { Description = "How often to check the app", DefaultValueFactory = _ => "10s" };
        var drain = new Option<string>("--drain-time") { Description = "How long in-flight requests may finish on shutdown", DefaultValueFactory = _ => "5s" };
        var keepAliveInterval = new Option<string>("--h2-keepalive-interval") { Description = "Ping an HTTP/2 connection (to or from another sidecar, or from the app) after this long without a frame from the peer; 0: never", DefaultValueFactory = _ => "10s" };
        var keepAliveTimeout = new Option<string>("--h2-keepalive-timeout") { Description = "Close an HTTP/2 connection whose peer answers nothing this long after a ping", DefaultValueFactory = _ => "5s" };
        var fastPathSwitch = new Option<string>("--fast-path") { Description = "on: plain HTTP/1.1 to instances without a sidecar skips Kestrel and YARP (see README); off: every request takes the layered path", DefaultValueFactory = _ => "on" };
        var metricsSwitch = new Option<string>("--metrics") { Description = "on: count requests for /metrics and /stats; off: skip counting", DefaultValueFactory = _ => "on" };
        var otlpEndpoint = new Option<string>("--otlp-endpoint") { Description = "Export a span per sampled request over OTLP to this collector, e.g. http://127.0.0.1:4318 (off by default)" };
        var otlpProtocol = new Option<string>("--otlp-protocol") { Description = "http/protobuf (a URL without a path gets /v1/traces) or grpc (the URL as given, e.g. http://127.0.0.1:4317) (default: $OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)" };
        var traceSampling = new Option<string>("--trace-sampling") { Description = "Share of new traces recorded, 0 to 1; a caller's sampled flag is kept (parent-based)", DefaultValueFactory = _ => "1" };
        var accessLog = new Option<string>("--access-log") { Description = "Write one JSON line per request to this file, or - for stdout (off by default)" };
        var accessLogSampling = new Option<string>("--access-log-sampling") { Description = "Share of requests the access log records, 0 to 1", DefaultValueFactory = _ => "1" };
        // Hidden: only for bench/proxy's mTLS-vs-plaintext comparison; refused unless the server runs with --dev-open.
        var insecurePlaintextMesh = new Option<bool>("--insecure-plaintext-mesh")
        {
            Description = "INSECURE, benchmarks only: h2c instead of mTLS between sidecars (refused unless the server runs with --dev-open)",
            Hidden = true,
        };
        var logLevel = new Option<string>("--log-level") { Description = "trace, debug, info, warn or error", DefaultValueFactory = _ => "info" };

        var command = new Command("proxy", "Run the sidecar beside one service instance");
        foreach (var option in new Option[] { server, token, service, id, appAddr, inbound, advertise, outbound, upstreams, admin, checkHttp, checkTcp, checkInterval, drain, keepAliveInterval, keepAliveTimeout, metricsSwitch, fastPathSwitch, otlpEndpoint, otlpProtocol, traceSampling, accessLog, accessLogSampling, insecurePlaintextMesh, logLevel })
            command.Options.Add(option);

        command.SetAction(async (parse, ct) =>
        {
            var errors = new List<string>();
            IPEndPoint Endpoint(Option<string> option)
            {
                if (ListenAddress.TryParse(parse.GetValue(option), out var endpoint, out var error)) return endpoint;
                errors.Add($"{option.Name}: {error}");
                return endpoint;
            }

            TimeSpan Duration(Option<string> option)
            {
                if (GoDuration.TryParse(parse.GetValue(option), out var value, out var error) && value > TimeSpan.Zero) return value;
                errors.Add($"{option.Name}: {(error.Length > 0 ? error : "must be > 0")}");
                return TimeSpan.FromSeconds(1);
            }

            var app = Endpoint(appAddr);
            var inboundEndpoint = Endpoint(inbound);
            var outboundEndpoint = Endpoint(outbound);
            var adminEndpoint = Endpoint(admin);
            var interval = Duration(checkInterval);
            var drainTime = Duration(drain);
            if (!GoDuration.TryParse(parse.GetValue(keepAliveInterval), out var pingAfter, out var pingError) || pingAfter < TimeSpan.Zero)
                errors.Add($"{keepAliveInterval.Name}: {(pingError.Length > 0 ? pingError : "must be 0 (off) or more")}");
            var pingTimeout = Duration(keepAliveTimeout);
            var upstreamMap = ImmutableDictionary.CreateBuilder<string, IPEndPoint>(StringComparer.Ordinal);
            foreach (var item in parse.GetValue(upstreams) ?? [])
            {
                var eq = item.IndexOf('=');
                if (eq <= 0 || !ListenAddress.TryParse(item[(eq + 1)..], out var endpoint, out var error))
                    errors.Add($"--upstream {item}: use NAME=127.0.0.1:PORT");
                else upstreamMap[item[..eq]] = endpoint;
            }

            var serverText = parse.GetValue(server) ?? Environment.GetEnvironmentVariable("WEFT_HTTP_ADDR") ?? "http://127.0.0.1:8500";
            if (!serverText.Contains("://", StringComparison.Ordinal)) serverText = "http://" + serverText;
            if (!Uri.TryCreate(serverText, UriKind.Absolute, out var serverUri))
                errors.Add($"--server: \"{serverText}\" is not a URL");
            double Sampling(Option<string> option)
            {
                if (Ratio.TryParse(parse.GetValue(option), out var value, out var error)) return value;
                errors.Add($"{option.Name}: {error}");
                return 1;
            }

            var traceRatio = Sampling(traceSampling);
            var accessRatio = Sampling(accessLogSampling);
            Uri? otlp = null;
            if (parse.GetValue(otlpEndpoint) is { } otlpText
                && (!Uri.TryCreate(otlpText, UriKind.Absolute, out otlp) || otlp.Scheme is not ("http" or "https")))
                errors.Add($"--otlp-endpoint: \"{otlpText}\" is not an http:// or https:// URL (e.g. http://127.0.0.1:4318)");
            var protocol = OtlpProtocols.Parse(parse.GetValue(otlpProtocol), Environment.GetEnvironmentVariable(OtlpProtocols.EnvironmentVariable), out var protocolError);
            if (protocolError is not null)
                errors.Add(protocolError);
            var accessLogPath = parse.GetValue(accessLog);
            if (accessLogPath is { Length: 0 })
                errors.Add("--access-log: give a file path, or - for stdout");
            else if (accessLogPath is { } file && file != "-" && Path.GetDirectoryName(Path.GetFullPath(file)) is { } dir && !Directory.Exists(dir))
                errors.Add($"--access-log: directory \"{dir}\" does not exist");
            if (!LogLevels.TryParse(parse.GetValue(logLevel)!, out var level))
                errors.Add($"--log-level: \"{parse.GetValue(logLevel)}\" is not one of trace, debug, info, warn, error");
            var metricsOn = parse.GetValue(metricsSwitch) switch
            {
                "on" => true,
                "off" => false,
                var other => Bad($"--metrics: \"{other}\" is neither on nor off"),
            };
            var fastPathOn = parse.GetValue(fastPathSwitch) switch
            {
                "on" => true,
                "off" => false,
                var other => Bad($"--fast-path: \"{other}\" is neither on nor off"),
            };
            bool Bad(string message)
            {
                errors.Add(message);
                return true;
            }

            if (errors.Count > 0)
            {
                foreach (var e in errors) await parse.InvocationConfiguration.Error.WriteLineAsync($"weft proxy: {e}");
                return ExitCodes.BadInput;
            }

            using var loggers = LoggerFactory.Create(b => b
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss ";
                })
                .SetMinimumLevel(level)
                .AddFilter("Microsoft", LogLevel.Warning));
            var name = parse.GetValue(service)!;
            var options = new SidecarOptions
            {
                Server = serverUri!,
                Token = parse.GetValue(token) ?? Environment.GetEnvironmentVariable("WEFT_ACL_TOKEN"),
                AdvertiseAddress = parse.GetValue(advertise),
                CheckHttpPath = parse.GetValue(checkHttp),
                CheckTcp = parse.GetValue(checkTcp),
                CheckInterval = interval,
                InsecurePlaintextMesh = parse.GetValue(insecurePlaintextMesh),
                Proxy = new ProxyOptions
                {
                    ServiceName = name,
                    InstanceId = parse.GetValue(id) is { Length: > 0 } given ? given : $"{name}-{Dns.GetHostName()}-{inboundEndpoint.Port}",
                    AppAddress = app,
                    InboundAddress = inboundEndpoint,
                    OutboundAddress = outboundEndpoint,
                    AdminAddress = adminEndpoint,
                    Upstreams = upstreamMap.ToImmutable(),
                    DrainTime = drainTime,
                    H2KeepAliveInterval = pingAfter,
                    H2KeepAliveTimeout = pingTimeout,
                    Metrics = metricsOn,
                    FastPath = fastPathOn,
                    OtlpEndpoint = otlp,
                    OtlpProtocol = protocol,
                    TraceSampling = traceRatio,
                    AccessLogPath = accessLogPath,
                    AccessLogSampling = accessRatio,
                    LoggerFactory = loggers,
                },
            };
            return await RunAsync(options, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(SidecarOptions options, CancellationToken ct)
    {
        Weft.Proxy.Net.MallocArenas.Limit();
        SidecarRunner sidecar;
        try
        {
            sidecar = await SidecarRunner.StartAsync(options, ct);
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"weft proxy: cannot listen: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is HttpRequestException or RegistryException)
        {
            await Console.Error.WriteLineAsync($"weft proxy: cannot register with the control plane at {options.Server}: {e.Message}");
            return e is RegistryException ? ExitCodes.ServerRefused : ExitCodes.Unreachable;
        }

        await using (sidecar)
        {
            var host = sidecar.Host;
            Console.WriteLine($"""
                weft proxy for "{sidecar.Identity.Service}" (instance {sidecar.Identity.InstanceId})
                  inbound     {host.InboundAddress}  (registered as {sidecar.Identity.AdvertiseAddress}:{sidecar.Identity.InboundPort}) -> app {options.Proxy.AppAddress}
                  outbound    {host.OutboundAddress}  (HTTP, routed by Host)
                  admin       http://{host.AdminAddress}  (/ready /config /clusters /stats)
                  control     {options.Server}
                  runtime     {RuntimeDescription()}
                  sidecar hop {SidecarHopDescription(options.Proxy)}
                  app h2c     {AppH2Description(options.Proxy)}
                """);
            LogFootprint(options.Proxy.LoggerFactory);
            if (options.InsecurePlaintextMesh)
                await Console.Error.WriteLineAsync("WARNING: --insecure-plaintext-mesh: calls between sidecars are NOT encrypted or authenticated (benchmarks only)");
            foreach (var (upstream, address) in host.UpstreamAddresses)
                Console.WriteLine($"  upstream    {address} -> {upstream}");

            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                stop.TrySetResult();
            });
            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c =>
            {
                c.Cancel = true;
                stop.TrySetResult();
            });
            await stop.Task;
            Console.WriteLine("weft proxy: deregistering and draining");
            await sidecar.StopAsync();
        }

        Console.WriteLine("weft proxy: stopped");
        return ExitCodes.Success;
    }

    /// <summary>
    /// Which build runs (users checking memory want to know: README "Native AOT sidecar"), and whether the fast path's
    /// inline completions are on (they are set by reflection, which a trimmed build could lose without an error).
    /// </summary>
    internal static string RuntimeDescription() =>
        $"{(System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "Native AOT")} "
        + $"({System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}), "
        + $"fast-path inline completions {(Weft.Proxy.FastPath.InlineCompletions.Available ? "on" : "off")}"
        + $", epoll engine {(Weft.Proxy.Hosting.ProxyOptions.FastEngineByEnvironment && Weft.Proxy.Net.EpollEngine.IsSupported ? "on" : "off")}";

    /// <summary>Which HTTP/2 client this sidecar's calls to other sidecars use, and which server takes them in (README "own HTTP/2").</summary>
    internal static string SidecarHopDescription(ProxyOptions options) =>
        $"h2 client {(options.FastH2 ? "weft" : "SocketsHttpHandler (WEFT_FAST_H2=0)")}, "
        + $"h2 server {(options.FastH2Server ? "weft for weft clients, Kestrel for others" : "Kestrel (WEFT_FAST_H2_SERVER=0)")}";

    /// <summary>Which HTTP/2 server takes the app's h2c (gRPC) on the outbound and upstream listeners (README "own HTTP/2").</summary>
    internal static string AppH2Description(ProxyOptions options) =>
        $"h2 server {(options.FastH2Server ? "weft" : "Kestrel (WEFT_FAST_H2_SERVER=0)")} on the outbound and upstream listeners";

    /// <summary>
    /// What the sidecar holds once it listens (<c>--log-level debug</c>): how many assemblies it loaded and methods
    /// it compiled, and its GC heap, so what startup pulls in can be compared between builds (issue 3's RSS goals).
    /// </summary>
    private static void LogFootprint(ILoggerFactory? loggers)
    {
        var log = loggers?.CreateLogger("Weft.Proxy.Startup");
        if (log is null || !log.IsEnabled(LogLevel.Debug)) return;
        var gc = GC.GetGCMemoryInfo();
        LogStartupFootprint(log, AppDomain.CurrentDomain.GetAssemblies().Length, System.Runtime.JitInfo.GetCompiledMethodCount(),
            GC.GetTotalMemory(false) / 1024, gc.TotalCommittedBytes / 1024, Environment.WorkingSet / 1024);
    }

    [LoggerMessage(EventId = 420, Level = LogLevel.Debug,
        Message = "Started: {Assemblies} assemblies loaded, {JitMethods} methods JIT-compiled, GC heap {HeapKiB} KiB ({CommittedKiB} KiB committed), RSS {RssKiB} KiB")]
    private static partial void LogStartupFootprint(ILogger logger, int assemblies, long jitMethods, long heapKiB, long committedKiB, long rssKiB);
}
