using System.Net;
using System.Runtime.CompilerServices;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Hosting;
using Weft.Proxy.Sidecar;
using Weft.Server.Hosting;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// A real control plane, real sidecars and real apps on loopback, all in this process. The server runs with
/// <c>--default-allow</c> unless asked not to: only the intention tests are about who may call whom.
/// </summary>
internal sealed class MeshFixture(bool defaultAllow = true) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private int _httpPort = FreePort();
    private int _grpcPort = FreePort();
    private bool _started;

    public string DataDir { get; } = Directory.CreateTempSubdirectory("weft-mesh-").FullName;
    public WeftServer? Server { get; private set; }
    public HttpClient Api { get; private set; } = null!;
    public Uri ServerAddress => new($"http://127.0.0.1:{_httpPort}");

    /// <summary>Starts (or restarts, on the same data dir and ports) the control plane.</summary>
    public async Task StartServerAsync(TimeSpan? leafTtl = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Server = await StartOnPortsAsync(leafTtl);
                break;
            }
            catch (IOException) when (!_started && attempt < 3)
            {
                // Another test took a port between FreePort and the bind; only a first start may move.
                (_httpPort, _grpcPort) = (FreePort(), FreePort());
            }
        }

        _started = true;
        Api ??= new HttpClient { BaseAddress = ServerAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    private Task<WeftServer> StartOnPortsAsync(TimeSpan? leafTtl) =>
        WeftServer.StartAsync(new ServerOptions
        {
            DataDir = DataDir,
            HttpEndpoint = new IPEndPoint(IPAddress.Loopback, _httpPort),
            GrpcEndpoint = new IPEndPoint(IPAddress.Loopback, _grpcPort),
            NodeName = "mesh-node",
            DevOpen = true,
            IntentionsDefaultAllow = defaultAllow,
            LeafTtl = leafTtl ?? TimeSpan.FromHours(24),
            LogLevel = LogLevel.Warning,
        });

    public async Task StopServerAsync()
    {
        if (Server is null) return;
        await Server.DisposeAsync();
        Server = null;
    }

    public async Task PutAsync(string path, string json)
    {
        using var response = await Api.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>An app that answers every request with its name (or fails as told).</summary>
    public async Task<App> StartAppAsync(string name, Func<HttpContext, Task<IResult>>? behaviour = null, int port = 0)
    {
        var app = await App.StartAsync(name, behaviour, port);
        _owned.Add(app);
        return app;
    }

    /// <param name="checkInterval">With a value, the sidecar registers a TCP check of its app at this interval.</param>
    public async Task<SidecarRunner> StartSidecarAsync(string service, string instance, int appPort, TimeSpan? connectionLifetime = null, TimeSpan? checkInterval = null)
    {
        var sidecar = await SidecarRunner.StartAsync(new SidecarOptions
        {
            Server = ServerAddress,
            CheckTcp = checkInterval is not null,
            CheckInterval = checkInterval ?? TimeSpan.FromSeconds(10),
            Proxy = new ProxyOptions
            {
                ServiceName = service,
                InstanceId = instance,
                AppAddress = new IPEndPoint(IPAddress.Loopback, appPort),
                InboundAddress = new IPEndPoint(IPAddress.Loopback, 0),
                OutboundAddress = new IPEndPoint(IPAddress.Loopback, 0),
                AdminAddress = new IPEndPoint(IPAddress.Loopback, 0),
                DrainTime = TimeSpan.FromSeconds(2),
                SidecarConnectionLifetime = connectionLifetime ?? ProxyOptions.DefaultSidecarConnectionLifetime,
            },
        });
        _owned.Add(sidecar);
        return sidecar;
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    public static HttpRequestMessage Through(SidecarRunner sidecar, string upstream, string path = "/")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"http://{sidecar.Host.OutboundAddress}{path}");
        request.Headers.Host = upstream;
        return request;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        await StopServerAsync();
        Api?.Dispose();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal sealed class App : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly StrongBox<int> _hits;
        private bool _stopped;

        private App(WebApplication app, int port, StrongBox<int> hits)
        {
            _app = app;
            Port = port;
            _hits = hits;
        }

        public int Port { get; }

        /// <summary>Requests this instance has received.</summary>
        public int Hits => Volatile.Read(ref _hits.Value);

        /// <param name="port">0 for any; a killed app's port to bring it back where its sidecar looks.</param>
        public static async Task<App> StartAsync(string name, Func<HttpContext, Task<IResult>>? behaviour, int port = 0)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
            var app = builder.Build();
            var hits = new StrongBox<int>();
            app.Map("/{**path}", async (HttpContext http) =>
            {
                Interlocked.Increment(ref hits.Value);
                return behaviour is null ? Results.Text(name) : await behaviour(http);
            });
            await app.StartAsync();
            return new App(app, new Uri(app.Urls.First()).Port, hits);
        }

        /// <summary>Stops answering at once, as a crashed instance would.</summary>
        public async Task KillAsync()
        {
            if (_stopped) return;
            _stopped = true;
            using var now = new CancellationTokenSource();
            await now.CancelAsync();
            await _app.StopAsync(now.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await KillAsync();
            await _app.DisposeAsync();
        }
    }
}
