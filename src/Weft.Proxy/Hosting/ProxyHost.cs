using System.Collections.Immutable;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Weft.Core.Mesh;
using Weft.Proxy.Admin;
using Weft.Proxy.FastPath;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Listeners;
using Weft.Proxy.Metrics;
using Weft.Proxy.Net;
using Weft.Proxy.Observability;
using Weft.Proxy.Routing;
using Weft.Proxy.Security;
using Weft.Proxy.Tcp;
using Weft.Proxy.Transport;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Hosting;

/// <summary>
/// A running sidecar data plane: one Kestrel server with the inbound, outbound, per-upstream and admin listeners, fed
/// by <see cref="ConfigSink"/>. Start with <see cref="StartAsync"/>; stop with <see cref="StopAsync"/> (drains).
/// </summary>
internal sealed class ProxyHost : IAsyncDisposable
{
    private readonly IServer _server;
    private readonly ServiceProvider _services;
    private readonly UpstreamTransport _transport;
    private readonly AdminEndpoints _admin;
    private readonly ILogger _log;
    private int _stopped;

    private ProxyHost(ProxyOptions options, IServer server, ServiceProvider services, UpstreamTransport transport, MeshConfig config, AdminEndpoints admin,
        ProxyMetrics metrics, ImmutableArray<Listener> listeners, ILogger log)
    {
        Options = options;
        _server = server;
        _services = services;
        _transport = transport;
        Config = config;
        _admin = admin;
        Metrics = metrics;
        Listeners = listeners;
        _log = log;
    }

    public ProxyOptions Options { get; }

    /// <summary>Where the control-plane stream client hands each snapshot; its result is the ACK/NACK.</summary>
    public IMeshConfigSink ConfigSink => Config;

    internal MeshConfig Config { get; }
    internal ProxyMetrics Metrics { get; }
    internal ImmutableArray<Listener> Listeners { get; }
    internal ProxyTracing? Tracing { get; private init; }
    internal AccessLog? AccessLog { get; private init; }
    internal Http1FastPath? FastPath { get; private init; }

    /// <summary>
    /// The layered path's raw HTTP/1.1 client to the app and to instances without a sidecar; null with <c>--fast-path off</c>,
    /// or with both <c>WEFT_INBOUND_FAST=0</c> and <c>WEFT_DIRECT_RAW=0</c>.
    /// </summary>
    internal RawHttp1Client? AppClient { get; private init; }

    /// <summary>The certificate and trust bundle in use (expiry, handshake failures); null when the proxy runs without mTLS.</summary>
    internal WorkloadTls? Workload => Options.Workload;

    public IPEndPoint InboundAddress => Bound(ListenerKind.Inbound);
    public IPEndPoint OutboundAddress => Bound(ListenerKind.Outbound);
    public IPEndPoint AdminAddress => Bound(ListenerKind.Admin);

    /// <summary>Upstream name → the address its dedicated listener is bound to.</summary>
    public ImmutableDictionary<string, IPEndPoint> UpstreamAddresses =>
        Listeners.Where(l => l.Kind == ListenerKind.Upstream).ToImmutableDictionary(l => l.Name, l => l.Bound);

    /// <summary>The local app's part of <c>/ready</c> (the integrator's app check). Defaults to always ready.</summary>
    public Func<bool> AppReady
    {
        get => _admin.AppReady;
        set => _admin.AppReady = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>What <c>/ready</c> answers: a snapshot has been applied and the app is ready.</summary>
    public bool IsReady => _admin.IsReady;

    public static async Task<ProxyHost> StartAsync(ProxyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ServiceName);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.InstanceId);
        ArgumentNullException.ThrowIfNull(options.AppAddress);
        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var log = loggerFactory.CreateLogger("Weft.Proxy");
        var metrics = new ProxyMetrics { ServiceName = options.ServiceName, Enabled = options.Metrics, Workload = options.Workload };
        var transport = new UpstreamTransport(options.Workload, options.SidecarConnectionLifetime, options.Time, options.FastH2 && options.FastEngine,
            KeepAliveOf(options) with { Dead = metrics.DeadPeersAsClient });
        var config = new MeshConfig(new RouteCompiler(options, transport, metrics), options.Time, log);
        var admin = new AdminEndpoints(config, metrics, options.Time);
        var tcp = new TcpProxy(transport, metrics, options.Time, log);
        var tracing = options.OtlpEndpoint is { } otlp
            ? new ProxyTracing(otlp, options.TraceSampling, options.ServiceName, options.InstanceId, options.TraceSourceName, options.OtlpProtocol)
            : null;
        var accessLog = options.AccessLogPath is { } logPath ? new AccessLog(logPath, options.AccessLogSampling) : null;
        metrics.AccessLog = accessLog;
        // The access log records from HttpContext, which the fast path never builds.
        var fastPath = options.FastPath && accessLog is null ? new Http1FastPath(config, options.Time, metrics, tracing, log, options.FastEngine) : null;
        // The inbound leg to the app: raw HTTP/1.1 inside the layered path (which keeps the access log working).
        var appClient = options.FastPath && (RawHttp1Client.InboundByEnvironment || RawHttp1Client.DirectByEnvironment)
            ? new RawHttp1Client(options.Time, log, options.FastEngine) { Inbound = RawHttp1Client.InboundByEnvironment, Direct = RawHttp1Client.DirectByEnvironment }
            : null;

        var listeners = ImmutableArray.CreateBuilder<Listener>();
        listeners.Add(new Listener(ListenerKind.Inbound, "inbound", options.InboundAddress));
        listeners.Add(new Listener(ListenerKind.Outbound, "outbound", options.OutboundAddress));
        foreach (var (name, address) in options.Upstreams)
            listeners.Add(new Listener(ListenerKind.Upstream, name, address));
        listeners.Add(new Listener(ListenerKind.Admin, "admin", options.AdminAddress));
        var all = listeners.ToImmutable();

        // No WebApplication: a host would add configuration, an environment with file providers, a lifetime, a DI scope
        // and a logging scope per request, none of which the sidecar uses; Kestrel and YARP's forwarder need only this.
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(new ProxyLoggerFactory(loggerFactory));
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddSingleton(options.Time);
        services.AddMetrics(); // Kestrel's own meters (its KestrelMetrics needs an IMeterFactory)
        // Kestrel's server takes the hosting's DiagnosticSource; with no subscriber it reports nothing, as before.
        services.AddSingleton<System.Diagnostics.DiagnosticSource>(_ => new System.Diagnostics.DiagnosticListener("Microsoft.AspNetCore"));
        services.AddHttpForwarder();
        var bound = new List<(Listener, ListenOptions)>();
        var ownH2 = options.FastH2Server ? new OwnH2Server { KeepAlive = KeepAliveOf(options) with { Dead = metrics.DeadPeersAsServer } } : null;
        metrics.OwnH2 = ownH2;
        // Continuations of the listeners' pipes run on the socket thread that completed them instead of hopping to the
        // thread pool: every handler on these connections is asynchronous and short, and the hops were the largest
        // part of a forwarded request's CPU after the fast path removed Kestrel's and YARP's work.
        services.Configure<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>(o => o.UnsafePreferInlineScheduling = true);
        var engine = options.FastEngine && EpollEngine.IsSupported;
        new KestrelServices(services).UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (KeepAliveOf(options) is { Enabled: true } keepAlive)
            {
                // Kestrel refuses less than a second for either.
                var atLeast = keepAlive.AtLeast(TimeSpan.FromSeconds(1));
                kestrel.Limits.Http2.KeepAlivePingDelay = atLeast.Interval;
                kestrel.Limits.Http2.KeepAlivePingTimeout = atLeast.Timeout;
            }

            // h2c connections are presented to Kestrel as TLS (see ListenerConnections); their :scheme stays http.
            kestrel.AllowAlternateSchemes = true;
            // The proxy does not judge body sizes; the app behind it does.
            kestrel.Limits.MaxRequestBodySize = null;
            foreach (var listener in all)
            {
                // With the engine on, every listener but the admin one accepts onto it (TLS and HTTP/2 run above the transport).
                var onEngine = engine && listener.Kind != ListenerKind.Admin;
                kestrel.Listen(onEngine ? new EngineEndPoint(listener.Configured) : listener.Configured, listen =>
                {
                    listen.Protocols = listener.Kind == ListenerKind.Admin ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                    if (listener.Kind == ListenerKind.Inbound && options.Workload is { } workload)
                        InboundTls.Use(listen, workload);
                    listen.Use(new ListenerConnections(listener, config, tcp, metrics.Listener(listener.Name), options.Time, fastPath, ownH2).Middleware);
                    bound.Add((listener, listen));
                });
            }
        });

        if (engine)
            services.AddSingleton<IConnectionListenerFactory, EpollTransportFactory>();
        var provider = services.BuildServiceProvider();
        var pipeline = new RequestPipeline(config, provider.GetRequiredService<IHttpForwarder>(), options.Time, metrics, log, tracing, accessLog, appClient);
        var server = provider.GetRequiredService<IServer>();
        // Which handler a request gets, by its listener: Kestrel runs it as a Task, Weft's own HTTP/2 server awaits the
        // pipeline's pooled ValueTask directly.
        Func<HttpContext, ValueTask> handle = http => http.Features.Get<Listener>() switch
        {
            null => default,
            { Kind: ListenerKind.Admin } => new ValueTask(admin.HandleAsync(http)),
            { } listener => pipeline.HandleAsync(http, listener),
        };
        var application = new ProxyApplication(http => handle(http).AsTask());
        if (ownH2 is not null)
            ownH2.Application = handle;
        try
        {
            await server.StartAsync(application, cancellationToken);
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }

        foreach (var (listener, listen) in bound)
            listener.Bound = listen.IPEndPoint ?? listener.Configured;
        var host = new ProxyHost(options, server, provider, transport, config, admin, metrics, all, log) { Tracing = tracing, AccessLog = accessLog, FastPath = fastPath, AppClient = appClient };
        log.Listening(options.ServiceName, host.InboundAddress, host.OutboundAddress, host.AdminAddress);
        return host;
    }

    /// <summary>Stops accepting, waits for in-flight requests up to <paramref name="drain"/> (default: the options' drain time), then closes what is left.</summary>
    public async Task StopAsync(TimeSpan? drain = null)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        var wait = drain ?? Options.DrainTime;
        _log.Draining(wait);
        FastPath?.BeginDrain();
        using var cts = new CancellationTokenSource(wait, Options.Time);
        try
        {
            // Kestrel stops accepting, lets open requests finish until the token fires, then aborts what is left.
            await _server.StopAsync(cts.Token);
        }
        finally
        {
            await _services.DisposeAsync(); // disposes the server too
            _transport.Dispose();
            FastPath?.Dispose();
            AppClient?.Dispose();
            // After the drain, so the last requests' spans and lines are flushed too.
            Tracing?.Dispose();
            if (AccessLog is not null)
                await AccessLog.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync(TimeSpan.Zero));

    private IPEndPoint Bound(ListenerKind kind)
    {
        foreach (var l in Listeners)
        {
            if (l.Kind == kind)
                return l.Bound;
        }

        throw new InvalidOperationException($"no {kind} listener");
    }

    private static Http2.Http2KeepAlive KeepAliveOf(ProxyOptions options) => new(options.H2KeepAliveInterval, options.H2KeepAliveTimeout);
}
