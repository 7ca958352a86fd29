using System.Diagnostics;

namespace Weft.Bench.Proxy;

/// <summary>
/// CPU ticks of the proxy and the backend and the machine's busy time across one load, and the proxy's peak
/// RSS, sampled every 200 ms while the load runs.
/// </summary>
internal sealed class Sampler : IAsyncDisposable
{
    private readonly List<int> _proxy;
    private readonly List<int> _backend;
    private readonly long _proxyTicks;
    private readonly long[] _eachTicks;
    private readonly long _backendTicks;
    private readonly (long Busy, long Total) _machine;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _rssLoop;
    private long _maxRssKiB;

    public Sampler(List<int> proxy, List<int> backend)
    {
        _proxy = proxy;
        _backend = backend;
        _maxRssKiB = proxy.Count == 0 ? 0 : ProcStats.RssKiB(proxy);
        _proxyTicks = ProcStats.CpuTicks(proxy);
        _eachTicks = [.. proxy.Select(pid => ProcStats.CpuTicks([pid]))];
        _backendTicks = ProcStats.CpuTicks(backend);
        _machine = ProcStats.MachineTicks();
        _rssLoop = SampleRssAsync();
    }

    public async Task<Sample> StopAsync()
    {
        var seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        var proxyTicks = ProcStats.CpuTicks(_proxy) - _proxyTicks;
        var each = _proxy.Select((pid, i) => (ProcStats.CpuTicks([pid]) - _eachTicks[i]) / ProcStats.TicksPerSecond).ToArray();
        var backendTicks = ProcStats.CpuTicks(_backend) - _backendTicks;
        var machine = ProcStats.MachineTicks();
        await _stop.CancelAsync();
        await _rssLoop;
        return new Sample(
            proxyTicks / ProcStats.TicksPerSecond,
            backendTicks / ProcStats.TicksPerSecond,
            seconds,
            (double)(machine.Busy - _machine.Busy) / Math.Max(1, machine.Total - _machine.Total) * 100,
            _maxRssKiB,
            _proxy.Count > 0)
        { ProcessCpuSeconds = each };
    }

    private async Task SampleRssAsync()
    {
        if (_proxy.Count == 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
                _maxRssKiB = Math.Max(_maxRssKiB, ProcStats.RssKiB(_proxy));
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _rssLoop;
        _stop.Dispose();
    }
}

/// <summary>CPU seconds of the proxy and the backend over a load's wall seconds; machine busy % of all cores.</summary>
internal sealed record Sample(double ProxyCpuSeconds, double BackendCpuSeconds, double WallSeconds, double MachineBusyPercent, long MaxRssKiB, bool HasProxy)
{
    /// <summary>Each proxy process's CPU seconds, in the target's pid order (two hops: client sidecar, then server sidecar).</summary>
    public double[] ProcessCpuSeconds { get; init; } = [];
}
