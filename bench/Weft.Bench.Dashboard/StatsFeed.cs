using Grpc.Core;
using Grpc.Net.Client;
using Weft.Core.Mesh.Protocol;

namespace Weft.Bench.Dashboard;

/// <summary>
/// Stream clients of <c>mesh.proto</c> standing in for sidecars, so the dashboard's golden-signal columns and topology
/// are not empty: one per calling service (every tenth service), each reporting every 2 s, as a sidecar does, cumulative
/// counters for its own inbound traffic and for calls to ten other services, so every service has figures and the
/// topology has one edge per service. The counters grow by a fixed pattern (some 5xx, latencies over several buckets).
/// </summary>
internal sealed class StatsFeed : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    private const int Buckets = 18;

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _clients = [];
    private readonly GrpcChannel _channel;
    private long _reports;

    private StatsFeed(GrpcChannel channel) => _channel = channel;

    public long Reports => Interlocked.Read(ref _reports);

    public static StatsFeed Start(Uri grpc, string token, int services)
    {
        var feed = new StatsFeed(GrpcChannel.ForAddress(grpc, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 }));
        var started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var callers = Math.Max(1, services / 10);
        for (var c = 0; c < callers; c++)
        {
            var caller = c;
            var callees = Enumerable.Range(0, 10).Select(j => caller * 10 + j).Where(s => s < services && s != caller).Select(Catalog.ServiceName).ToList();
            feed._clients.Add(Task.Run(() => feed.RunAsync(Catalog.ServiceName(caller), callees, token, started)));
        }

        return feed;
    }

    private async Task RunAsync(string service, List<string> callees, string token, long started)
    {
        var headers = new Metadata { { "x-consul-token", token } };
        using var call = new MeshStream.MeshStreamClient(_channel).Stream(headers, cancellationToken: _stop.Token);
        try
        {
            await call.RequestStream.WriteAsync(new ProxyMessage { Hello = new Hello { Service = service, ProxyId = $"{service}-0", Node = "bench" } });
            var reader = Task.Run(async () =>
            {
                await foreach (var message in call.ResponseStream.ReadAllAsync(_stop.Token))
                    await Send(call, new ProxyMessage { Ack = new Ack { Version = message.Version } });
            });
            for (long tick = 1; !_stop.IsCancellationRequested; tick++)
            {
                var stats = new Weft.Core.Mesh.Protocol.Stats { Version = "bench", StartedUnixMs = started, ConfigAgeSeconds = -1 };
                stats.Routes.Add(Counters("inbound", "unknown", "app", tick * 40, 5));
                foreach (var (callee, i) in callees.Select((name, i) => (name, i)))
                    stats.Routes.Add(Counters("outbound", callee, "default", tick * (10 + i), i * 7 % 30));
                await Send(call, new ProxyMessage { Stats = stats });
                Interlocked.Increment(ref _reports);
                await Task.Delay(Interval, _stop.Token);
            }

            await reader;
        }
        catch (Exception e) when (_stop.IsCancellationRequested && e is OperationCanceledException or RpcException or IOException)
        {
        }
    }

    // Acks and reports share one request stream per client; gRPC allows one write at a time on it.
    private static async Task Send(AsyncDuplexStreamingCall<ProxyMessage, ServerMessage> call, ProxyMessage message)
    {
        await WriteLock(call).WaitAsync();
        try
        {
            await call.RequestStream.WriteAsync(message);
        }
        finally
        {
            WriteLock(call).Release();
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, SemaphoreSlim> Locks = [];

    private static SemaphoreSlim WriteLock(object call) => Locks.GetValue(call, static _ => new SemaphoreSlim(1, 1));

    // Shares of the requests per latency bucket 3..10 (1 ms .. 250 ms); each a fixed fraction, so every bucket only grows.
    private static readonly double[] Spread = [0, 0, 0, 0.30, 0.30, 0.20, 0.10, 0.05, 0.03, 0.015, 0.005];

    /// <summary>Cumulative counts: <paramref name="total"/> requests, <paramref name="failedPerMille"/>‰ of them 5xx, latencies from 1 ms to 250 ms.</summary>
    private static RouteCounters Counters(string direction, string peer, string route, long total, int failedPerMille)
    {
        var n = (ulong)total;
        var failed = n * (ulong)failedPerMille / 1000;
        var counters = new RouteCounters { Direction = direction, Peer = peer, Route = route };
        counters.StatusClasses.AddRange([0, 0, n - failed, 0, 0, failed]);
        counters.LatencyBuckets.AddRange(Enumerable.Range(0, Buckets).Select(b => b < Spread.Length ? (ulong)(n * Spread[b]) : 0UL));
        return counters;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_clients).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // Cancelled streams end with cancellations; nothing to report.
        }

        _channel.Dispose();
    }
}
