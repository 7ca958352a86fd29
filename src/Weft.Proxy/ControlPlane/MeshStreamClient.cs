using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Weft.Core.Mesh;
using Weft.Core.Mesh.Protocol;

namespace Weft.Proxy.ControlPlane;

/// <summary>
/// The sidecar's end of the proxy stream. Connects (learning the stream's address from the server's HTTP
/// API), says Hello, folds the snapshot and each delta into a <see cref="MeshSnapshot"/>, hands it to the
/// data plane and acknowledges or rejects (with the reason) its version, heartbeats, and after any failure
/// reconnects with exponential backoff and jitter. Disconnected, it keeps what it last applied: the data
/// plane goes on serving on it (static stability) and <see cref="Connected"/> and
/// <see cref="LastAppliedAt"/> say how stale that is.
/// </summary>
internal sealed partial class MeshStreamClient : IAsyncDisposable
{
    private readonly MeshStreamClientOptions _options;
    private readonly IMeshConfigSink _sink;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private Task? _run;
    private MeshSnapshot _applied = MeshSnapshot.Empty;
    private DateTimeOffset? _appliedAt;
    private string? _lastError;
    private volatile bool _connected;
    private long _connects;

    public MeshStreamClient(MeshStreamClientOptions options, IMeshConfigSink sink, ILogger<MeshStreamClient>? logger = null)
    {
        _options = options;
        _sink = sink;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>True while a stream is open and the server has sent at least its snapshot.</summary>
    public bool Connected => _connected;

    /// <summary>The version (catalog index) of the snapshot the data plane last accepted; 0 before the first.</summary>
    public ulong LastAppliedVersion
    {
        get { lock (_lock) return _applied.Version; }
    }

    /// <summary>When the data plane last accepted a snapshot; null before the first.</summary>
    public DateTimeOffset? LastAppliedAt
    {
        get { lock (_lock) return _appliedAt; }
    }

    /// <summary>The last thing that went wrong: a connection failure, or the data plane's reason for rejecting a version.</summary>
    public string? LastError
    {
        get { lock (_lock) return _lastError; }
    }

    /// <summary>The snapshot the data plane last accepted (kept while disconnected).</summary>
    public MeshSnapshot LastApplied
    {
        get { lock (_lock) return _applied; }
    }

    /// <summary>How many times a stream was opened and its snapshot received.</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>Starts connecting in the background and returns at once; the stream lives until <see cref="StopAsync"/>.</summary>
    public void Start()
    {
        if (_run is not null) throw new InvalidOperationException("the stream client is already started");
        _run = Task.Run(RunAsync);
    }

    /// <summary>Closes the stream and stops reconnecting. The server's TTL on <c>sidecar:&lt;id&gt;</c> then lapses.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null) await _run;
        _connected = false;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var attempt = 0;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await StreamOnceAsync(() => attempt = 0, _stop.Token);
                Fail("the server closed the stream");
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                Fail(Describe(e));
            }

            _connected = false;
            var delay = Backoff(attempt++);
            LogReconnecting(delay.TotalMilliseconds, LastError ?? "");
            try
            {
                await Task.Delay(delay, _options.Time, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        _connected = false;
    }

    // Full jitter over the upper half: a fleet of sidecars that lost the server together does not return together.
    private TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_options.MaxBackoff.TotalMilliseconds, _options.InitialBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + Random.Shared.NextDouble() * 0.5));
    }

    private async Task StreamOnceAsync(Action onSnapshot, CancellationToken stop)
    {
        var address = _options.GrpcAddress ?? await DiscoverAsync(stop);
        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(5),
                // Finds a dead server between heartbeats: a half-open TCP connection would otherwise look alive.
                KeepAlivePingDelay = TimeSpan.FromSeconds(15),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            },
        });
        var headers = new Metadata();
        if (!string.IsNullOrEmpty(_options.Token)) headers.Add("x-consul-token", _options.Token);

        using var streamEnd = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var call = new MeshStream.MeshStreamClient(channel).Stream(headers, cancellationToken: streamEnd.Token);
        var writeLock = new SemaphoreSlim(1, 1);
        async Task SendAsync(ProxyMessage message)
        {
            await writeLock.WaitAsync(streamEnd.Token);
            try
            {
                await call.RequestStream.WriteAsync(message, streamEnd.Token);
            }
            finally
            {
                writeLock.Release();
            }
        }

        await SendAsync(new ProxyMessage { Hello = new Hello { Service = _options.Service, ProxyId = _options.ProxyId, Node = _options.Node } });
        var heartbeat = HeartbeatAsync(SendAsync, streamEnd.Token);
        var reports = _options.Stats is null ? Task.CompletedTask : ReportStatsAsync(SendAsync, _options.Stats, streamEnd.Token);
        try
        {
            // Deltas fold onto what the server sent, applied or not: it sends each change once.
            var received = MeshSnapshot.Empty;
            var first = true;
            await foreach (var message in call.ResponseStream.ReadAllAsync(streamEnd.Token))
            {
                if (first && !message.Full)
                    throw new InvalidOperationException("the server's first message was not a snapshot");
                MeshApplyResult result;
                try
                {
                    received = MeshWire.Fold(received, message);
                    result = _sink.Apply(received);
                }
                catch (JsonException e)
                {
                    result = MeshApplyResult.Rejected($"a config entry did not parse: {e.Message}");
                }

                if (result.Applied)
                {
                    lock (_lock)
                    {
                        _applied = received;
                        _appliedAt = _options.Time.GetUtcNow();
                        _lastError = null;
                    }

                    await SendAsync(new ProxyMessage { Ack = new Ack { Version = message.Version } });
                }
                else
                {
                    var reason = result.Error ?? "rejected by the data plane";
                    lock (_lock) _lastError = $"version {message.Version} rejected: {reason}";
                    LogRejected(message.Version, reason);
                    await SendAsync(new ProxyMessage { Nack = new Nack { Version = message.Version, Reason = reason } });
                }

                if (first)
                {
                    first = false;
                    onSnapshot();
                    Interlocked.Increment(ref _connects);
                    _connected = true;
                    LogConnected(address.ToString(), message.Version);
                }
            }
        }
        finally
        {
            // Connected is cleared by RunAsync after it records why the stream ended, so a reader never sees
            // "disconnected" without the reason.
            await streamEnd.CancelAsync();
            try
            {
                await Task.WhenAll(heartbeat, reports);
            }
            catch (Exception)
            {
                // Ended with the stream.
            }
        }
    }

    private async Task HeartbeatAsync(Func<ProxyMessage, Task> send, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(_options.HeartbeatInterval, _options.Time, cancellationToken);
            await send(new ProxyMessage { Heartbeat = new Heartbeat() });
        }
    }

    private async Task ReportStatsAsync(Func<ProxyMessage, Task> send, Func<Stats> build, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(_options.StatsInterval, _options.Time, cancellationToken);
            var stats = build();
            lock (_lock)
            {
                stats.ConfigVersion = _applied.Version;
                stats.ConfigAgeSeconds = _appliedAt is { } at ? (_options.Time.GetUtcNow() - at).TotalSeconds : -1;
            }

            await send(new ProxyMessage { Stats = stats });
        }
    }

    /// <summary>Asks the server's HTTP API where its proxy stream listens (<c>/v1/agent/self</c>, <c>Weft.GrpcAddress</c>).</summary>
    private async Task<Uri> DiscoverAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = _options.ServerAddress, Timeout = TimeSpan.FromSeconds(10) };
        if (!string.IsNullOrEmpty(_options.Token)) http.DefaultRequestHeaders.Add("X-Consul-Token", _options.Token);
        using var response = await http.GetAsync("/v1/agent/self", cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{_options.ServerAddress} answered /v1/agent/self with {(int)response.StatusCode}: {(await response.Content.ReadAsStringAsync(cancellationToken)).Trim()}");
        using var self = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        if (!self.RootElement.TryGetProperty("Weft", out var weft) || !weft.TryGetProperty("GrpcAddress", out var grpc) || grpc.GetString() is not { Length: > 0 } hostPort)
            throw new InvalidOperationException($"{_options.ServerAddress} does not advertise a proxy stream (no Weft.GrpcAddress in /v1/agent/self); is it a Weft server?");
        return new Uri($"http://{hostPort}");
    }

    private void Fail(string error)
    {
        lock (_lock) _lastError = error;
    }

    private static string Describe(Exception e) => e switch
    {
        RpcException r => $"stream failed: {r.StatusCode}: {r.Status.Detail}",
        HttpRequestException h => $"cannot reach the server: {h.Message}",
        _ => e.Message,
    };

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Connected to the control plane stream at {Address}; snapshot version {Version}")]
    private partial void LogConnected(string address, ulong version);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "Control plane stream lost; reconnecting in {DelayMs:0} ms ({Reason}); serving on the last applied config")]
    private partial void LogReconnecting(double delayMs, string reason);

    [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "Rejected control plane version {Version}: {Reason}")]
    private partial void LogRejected(ulong version, string reason);
}
