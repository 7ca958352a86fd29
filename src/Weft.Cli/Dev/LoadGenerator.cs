using System.Diagnostics;
using System.Net;

namespace Weft.Cli.Dev;

/// <summary>
/// The demo's client: a fixed request rate into the first service, through a sidecar, for at most an hour,
/// counting what a user would see (status codes and latency) per second.
/// </summary>
internal sealed class LoadGenerator : IAsyncDisposable
{
    private static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<double> _latenciesMs = [];
    private int _ok;
    private int _failed;
    private Task? _loop;

    public void Start(IPEndPoint outbound, string service, int requestsPerSecond) =>
        _loop = RunAsync(outbound, service, requestsPerSecond, _stop.Token);

    /// <summary>What was seen since the last call: requests, successes, p50 and p99 latency.</summary>
    public (int Requests, int Succeeded, double P50Ms, double P99Ms) Drain()
    {
        lock (_lock)
        {
            var sorted = _latenciesMs.Order().ToArray();
            var result = (_ok + _failed, _ok, Percentile(sorted, 0.50), Percentile(sorted, 0.99));
            _latenciesMs.Clear();
            _ok = 0;
            _failed = 0;
            return result;
        }
    }

    private async Task RunAsync(IPEndPoint outbound, string service, int rate, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rate));
        var inFlight = new List<Task>();
        try
        {
            while (started.Elapsed < MaxDuration && await timer.WaitForNextTickAsync(cancellationToken))
            {
                inFlight.RemoveAll(t => t.IsCompleted);
                if (inFlight.Count < rate) inFlight.Add(SendOneAsync(outbound, service, cancellationToken));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(inFlight).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    private async Task SendOneAsync(IPEndPoint outbound, string service, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        bool ok;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{outbound}/");
            request.Headers.Host = service;
            using var response = await _http.SendAsync(request, cancellationToken);
            ok = response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            if (cancellationToken.IsCancellationRequested) return;
            ok = false;
        }

        lock (_lock)
        {
            _latenciesMs.Add(clock.Elapsed.TotalMilliseconds);
            if (ok) _ok++;
            else _failed++;
        }
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null) await _loop;
        _http.Dispose();
        _stop.Dispose();
    }
}
