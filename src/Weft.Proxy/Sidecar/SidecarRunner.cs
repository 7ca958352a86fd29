using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Weft.Core.Catalog;
using Weft.Core.Health;
using Weft.Proxy.ControlPlane;
using Weft.Proxy.Hosting;
using Weft.Proxy.Security;

namespace Weft.Proxy.Sidecar;

/// <summary>Everything <c>weft proxy</c> is told: the data plane's options plus how it joins the control plane.</summary>
internal sealed record SidecarOptions
{
    public required ProxyOptions Proxy { get; init; }

    /// <summary>The control plane's HTTP address (<c>--server</c>).</summary>
    public required Uri Server { get; init; }

    public string? Token { get; init; }

    /// <summary>The address registered for this instance; null: the inbound listener's, or 127.0.0.1 when it listens on all.</summary>
    public string? AdvertiseAddress { get; init; }

    /// <summary><c>--check-http PATH</c>: an HTTP GET of the app the sidecar runs and reports.</summary>
    public string? CheckHttpPath { get; init; }

    /// <summary><c>--check-tcp</c>: a TCP connect to the app.</summary>
    public bool CheckTcp { get; init; }

    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <c>--insecure-plaintext-mesh</c>: h2c between sidecars instead of mTLS, so the bench can measure what mTLS costs.
    /// Refused unless the control plane runs with <c>--dev-open</c>; both ends of a call must run with it.
    /// </summary>
    public bool InsecurePlaintextMesh { get; init; }

    /// <summary>How long to keep trying to register when the control plane is not up yet.</summary>
    public TimeSpan RegisterDeadline { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// A whole sidecar: the data plane, its registration, its stream to the control plane (the heartbeat and the
/// source of every config it applies) and its check of the local app. Used by <c>weft proxy</c> and <c>weft dev</c>.
/// </summary>
internal sealed partial class SidecarRunner : IAsyncDisposable
{
    private readonly SidecarOptions _options;
    private readonly HttpClient _http;
    private readonly RegistryClient _registry;
    private readonly HealthProbeFactory? _probes;
    private readonly AppHealthReporter? _app;
    private readonly MeshStreamClient _stream;
    private readonly CertificateManager _certificates;
    private readonly HttpCertificateAuthority _ca;
    private readonly ILogger _logger;
    private bool _stopped;

    private SidecarRunner(SidecarOptions options, ProxyHost host, SidecarIdentity identity, HttpClient http, RegistryClient registry,
        HealthProbeFactory? probes, AppHealthReporter? app, MeshStreamClient stream, CertificateManager certificates, HttpCertificateAuthority ca, ILogger logger)
    {
        _certificates = certificates;
        _ca = ca;
        _options = options;
        Host = host;
        Identity = identity;
        _http = http;
        _registry = registry;
        _probes = probes;
        _app = app;
        _stream = stream;
        _logger = logger;
    }

    public ProxyHost Host { get; }
    public SidecarIdentity Identity { get; }
    public MeshStreamClient Stream => _stream;
    public AppHealthReporter? App => _app;

    /// <summary>The workload certificate's renewal and the trust bundle's updates.</summary>
    public CertificateManager Certificates => _certificates;

    public static async Task<SidecarRunner> StartAsync(SidecarOptions options, CancellationToken cancellationToken = default)
    {
        var loggers = options.Proxy.LoggerFactory ?? NullLoggerFactory.Instance;
        var logger = loggers.CreateLogger<SidecarRunner>();
        // No certificate, no mesh: the inbound listener opens and the instance registers only once the CA has signed one.
        if (options.InsecurePlaintextMesh)
            await RequireDevOpenAsync(options.Server, cancellationToken);
        var ca = new HttpCertificateAuthority(options.Server, options.Token);
        CertificateManager certificates;
        try
        {
            certificates = await CertificateManager.StartAsync(ca, options.Proxy.ServiceName, options.Proxy.Time,
                loggers.CreateLogger<CertificateManager>(), options.RegisterDeadline, cancellationToken);
        }
        catch
        {
            ca.Dispose();
            throw;
        }

        ProxyHost host;
        try
        {
            host = await ProxyHost.StartAsync(options.Proxy with { Workload = options.InsecurePlaintextMesh ? null : certificates.Tls }, cancellationToken);
        }
        catch
        {
            await certificates.DisposeAsync();
            ca.Dispose();
            throw;
        }

        HttpClient? http = null;
        HealthProbeFactory? probes = null;
        AppHealthReporter? app = null;
        try
        {
            var inbound = host.InboundAddress;
            var advertise = options.AdvertiseAddress
                ?? (inbound.Address.Equals(IPAddress.Any) || inbound.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : inbound.Address.ToString());
            // A wildcard admin bind is reachable at the advertised address; a specific one (loopback by default) only at itself.
            var admin = host.AdminAddress;
            var adminHost = admin.Address.Equals(IPAddress.Any) || admin.Address.Equals(IPAddress.IPv6Any) ? advertise
                : admin.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{admin.Address}]" : admin.Address.ToString();
            var identity = new SidecarIdentity(options.Proxy.ServiceName, options.Proxy.InstanceId, advertise, inbound.Port)
            {
                AdminAddress = $"{adminHost}:{admin.Port}",
            };

            http = new HttpClient { BaseAddress = options.Server, Timeout = TimeSpan.FromSeconds(10) };
            if (!string.IsNullOrEmpty(options.Token)) http.DefaultRequestHeaders.Add("X-Consul-Token", options.Token);
            var registry = new RegistryClient(http);

            var appCheck = AppCheck(options);
            if (appCheck is not null)
            {
                probes = new HealthProbeFactory(options.Proxy.Time);
                app = new AppHealthReporter(probes.Create(appCheck), registry, identity.AppCheckId, options.CheckInterval, options.Proxy.Time,
                    loggers.CreateLogger<AppHealthReporter>());
                var reporter = app;
                host.AppReady = () => reporter.Passing;
            }

            await RegisterAsync(registry, identity, app is null ? null : AppHealthReporter.TtlFor(options.CheckInterval), options, logger, cancellationToken);
            app?.Start();

            var stream = new MeshStreamClient(new MeshStreamClientOptions
            {
                ServerAddress = options.Server,
                Token = options.Token,
                Service = identity.Service,
                ProxyId = identity.InstanceId,
                Time = options.Proxy.Time,
                Stats = StatsOf(host.Metrics, options.Proxy.Time.GetUtcNow()),
            }, host.ConfigSink, loggers.CreateLogger<MeshStreamClient>());
            stream.Start();
            return new SidecarRunner(options, host, identity, http, registry, probes, app, stream, certificates, ca, logger);
        }
        catch
        {
            if (app is not null) await app.DisposeAsync();
            if (probes is not null) await probes.DisposeAsync();
            http?.Dispose();
            await host.DisposeAsync();
            await certificates.DisposeAsync();
            ca.Dispose();
            throw;
        }
    }

    private static Func<Weft.Core.Mesh.Protocol.Stats> StatsOf(Metrics.ProxyMetrics metrics, DateTimeOffset started) =>
        () => Metrics.StatsReport.From(metrics, started);

    /// <summary>
    /// Plaintext between sidecars only beside a control plane that checks no token either: a <c>--dev-open</c> server
    /// answers the ACL endpoints 401 "ACL support disabled" (as Consul without ACLs does).
    /// </summary>
    private static async Task RequireDevOpenAsync(Uri server, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri("/v1/acl/tokens", UriKind.Relative), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !body.Contains("--dev-open", StringComparison.Ordinal))
            throw new RegistryException("--insecure-plaintext-mesh is refused: the control plane does not run with --dev-open");
    }

    private static CheckDefinition? AppCheck(SidecarOptions options)
    {
        var app = options.Proxy.AppAddress;
        var timeout = options.CheckInterval < TimeSpan.FromSeconds(5) ? options.CheckInterval : TimeSpan.FromSeconds(5);
        if (!string.IsNullOrEmpty(options.CheckHttpPath))
        {
            var path = options.CheckHttpPath.StartsWith('/') ? options.CheckHttpPath : "/" + options.CheckHttpPath;
            return new CheckDefinition { Type = CheckTypes.Http, Http = $"http://{app}{path}", Interval = options.CheckInterval, Timeout = timeout };
        }

        return options.CheckTcp
            ? new CheckDefinition { Type = CheckTypes.Tcp, Tcp = app.ToString(), Interval = options.CheckInterval, Timeout = timeout }
            : null;
    }

    private static async Task RegisterAsync(RegistryClient registry, SidecarIdentity identity, TimeSpan? appTtl, SidecarOptions options,
        ILogger logger, CancellationToken cancellationToken)
    {
        var time = options.Proxy.Time;
        var deadline = time.GetUtcNow() + options.RegisterDeadline;
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                await registry.RegisterAsync(identity, appTtl, cancellationToken);
                return;
            }
            catch (HttpRequestException e) when (time.GetUtcNow() + delay < deadline)
            {
                LogWaitingForServer(logger, options.Server, e.Message);
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    /// <summary>
    /// Leaves the mesh without failing a request: deregisters first, so peers stop picking this instance, then
    /// stops accepting and lets in-flight requests finish within the drain time, then closes the stream.
    /// </summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _registry.DeregisterAsync(Identity.InstanceId, timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or RegistryException or OperationCanceledException)
        {
            LogDeregisterFailed(_logger, e.Message);
        }

        await Host.StopAsync(_options.Proxy.DrainTime);
        await _stream.StopAsync();
        if (_app is not null) await _app.DisposeAsync();
        if (_probes is not null) await _probes.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _stream.DisposeAsync();
        await Host.DisposeAsync();
        await _certificates.DisposeAsync();
        _ca.Dispose();
        _http.Dispose();
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Waiting for the control plane at {Server}: {Reason}")]
    private static partial void LogWaitingForServer(ILogger logger, Uri server, string reason);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Could not deregister on the way out: {Reason}")]
    private static partial void LogDeregisterFailed(ILogger logger, string reason);
}
