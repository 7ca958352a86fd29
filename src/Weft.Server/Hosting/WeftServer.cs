using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Weft.Server.Acl;
using Weft.Server.Api;
using Weft.Server.Ui;
using Weft.Server.Ca;
using Weft.Server.Catalog;
using Weft.Core.Health;
using Weft.Server.Health;
using Weft.Server.Mesh;
using Weft.Server.Metrics;
using Weft.Server.Registry;
using Weft.Server.Storage;

namespace Weft.Server.Hosting;

/// <summary>
/// The control plane as one object: opens the store (refusing a foreign or corrupt one before listening),
/// registers its own node, starts the health checks, then serves the API. Used by <c>weft server</c>,
/// <c>weft dev</c> and the tests alike.
/// </summary>
internal sealed class WeftServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WeftServer(WebApplication app, Uri httpAddress, Uri grpcAddress)
    {
        _app = app;
        HttpAddress = httpAddress;
        GrpcAddress = grpcAddress;
    }

    /// <summary>The address the API listens on, with the real port when 0 was asked for.</summary>
    public Uri HttpAddress { get; }

    /// <summary>The address of the proxy stream (gRPC over h2c), with the real port when 0 was asked for.</summary>
    public Uri GrpcAddress { get; }

    public ProxySessions Proxies => _app.Services.GetRequiredService<ProxySessions>();
    public CatalogStore Catalog => _app.Services.GetRequiredService<CatalogStore>();
    public CheckScheduler Checks => _app.Services.GetRequiredService<CheckScheduler>();
    public ServerIdentity Identity => _app.Services.GetRequiredService<ServerIdentity>();

    public static async Task<WeftServer> StartAsync(ServerOptions options, CancellationToken cancellationToken = default)
    {
        if (!options.DevOpen && string.IsNullOrEmpty(options.AclToken))
            throw new InvalidOperationException("a token is required unless the server runs with --dev-open");

        ListenOptions? grpcListen = null;
        // Every setting is a flag, so nothing watches appsettings*.json: the default watch covers the content root (the
        // working directory) and everything below it, so each write to a data dir there (SQLite's WAL), or to a log
        // beside it, woke a file-watch thread (about 1% of a core with 10,000 HTTP checks, bench/registry).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.Listen(options.HttpEndpoint);
            // Sidecars speak gRPC without TLS here (h2c): HTTP/2 only, so no upgrade dance.
            k.Listen(options.GrpcEndpoint, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                grpcListen = listen;
            });
        });

        var identity = new ServerIdentity(
            options.NodeName,
            NodeId.LoadOrCreate(options.DataDir),
            options.Datacenter,
            IPAddress.IsLoopback(options.HttpEndpoint.Address) || options.HttpEndpoint.Address.Equals(IPAddress.Any) || options.HttpEndpoint.Address.Equals(IPAddress.IPv6Any)
                ? "127.0.0.1"
                : options.HttpEndpoint.Address.ToString());

        var services = builder.Services;
        services.AddSingleton(options.TimeProvider);
        services.AddSingleton(options);
        services.AddSingleton(identity);
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<IStore>(new SqliteStore(options.DataDir));
        services.AddSingleton<CatalogStore>();
        services.AddSingleton(new CheckDefinitions(options.EnableScriptChecks));
        services.AddSingleton<RegistryOperations>();
        services.AddSingleton<BlockingQuery>();
        services.AddSingleton<HealthProbeFactory>();
        services.AddSingleton<CheckScheduler>();
        services.AddSingleton<ProxySessions>();
        services.AddSingleton<Weft.Server.Stats.MeshStats>();
        services.AddSingleton(sp => new AclTokens(sp.GetRequiredService<IStore>(), options.TimeProvider, options.DevOpen ? null : options.AclToken));
        services.AddSingleton<CertificateAuthority>();
        services.AddSingleton(new IntentionDefaults(options.IntentionsDefaultAllow));
        var meshListener = new MeshListener();
        services.AddSingleton(meshListener);
        // Otherwise gRPC answers any POST to a two-segment path (POST /v1/config) with 200 and grpc-status 12,
        // which a REST client takes for success; unknown paths get the API's 404 or 405 instead.
        services.AddGrpc(grpc => grpc.IgnoreUnknownServices = true);

        var app = builder.Build();
        try
        {
            var catalog = app.Services.GetRequiredService<CatalogStore>();
            await catalog.StartAsync(cancellationToken);
            await app.Services.GetRequiredService<AclTokens>().LoadAsync(cancellationToken);
            var registry = app.Services.GetRequiredService<RegistryOperations>();
            await catalog.WriteAsync(registry.RegisterSelf);
            await app.Services.GetRequiredService<CertificateAuthority>().StartAsync();
            app.Services.GetRequiredService<CheckScheduler>().Start();

            app.UseMiddleware<ApiErrors>();
            ApiErrors.UseStatusMessages(app);
            if (!options.DevOpen)
                app.UseMiddleware<AclMiddleware>();
            app.Use((http, next) =>
            {
                // The gRPC listener serves the proxy stream and nothing else.
                if (http.Connection.LocalPort == meshListener.Port && !AclMiddleware.IsGrpc(http.Request))
                {
                    http.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }

                return next(http);
            });
            app.UseRouting();
            app.MapAgentApi();
            app.MapCatalogApi();
            app.MapHealthApi();
            app.MapStatusApi();
            app.MapConfigApi();
            app.MapIntentionsApi();
            app.MapWeftApi();
            app.MapAclApi();
            app.MapConnectCaApi();
            app.MapMetricsApi();
            app.MapUi();
            app.MapGrpcService<MeshStreamService>();

            await app.StartAsync(cancellationToken);
            var grpcPort = grpcListen!.IPEndPoint!.Port;
            meshListener.Port = grpcPort;
            meshListener.Address = $"{Advertised(options.GrpcEndpoint.Address, identity.Address)}:{grpcPort}";
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var grpcAddress = new Uri($"http://{meshListener.Address}");
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new WeftServer(app, new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)), grpcAddress);
    }

    // A wildcard bind is advertised as the server's own address; a specific one as itself.
    private static string Advertised(IPAddress bound, string self) =>
        bound.Equals(IPAddress.Any) || bound.Equals(IPAddress.IPv6Any) ? self
        : bound.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{bound}]" : bound.ToString();

    /// <summary>Completes when SIGINT/SIGTERM (or <see cref="DisposeAsync"/>) stops the server.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>
    /// Stops listening, then disposes the services in reverse order of creation: the health checks (which
    /// produce writes) before the catalog, whose writer drains before the store closes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
