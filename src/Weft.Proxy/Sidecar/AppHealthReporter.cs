using Microsoft.Extensions.Logging;
using Weft.Core.Catalog;
using Weft.Core.Health;

namespace Weft.Proxy.Sidecar;

/// <summary>
/// The sidecar's check of its own app (<c>--check-http PATH</c> or <c>--check-tcp</c>): probes it every
/// interval on the injected <see cref="TimeProvider"/> and reports every result to the control plane as the
/// app check's TTL heartbeat (the server writes only changes). Its latest status gates <c>/ready</c>.
/// </summary>
internal sealed partial class AppHealthReporter : IAsyncDisposable
{
    private readonly IHealthProbe _probe;
    private readonly RegistryClient _registry;
    private readonly string _checkId;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private volatile string _status = HealthStatus.Critical;

    public AppHealthReporter(IHealthProbe probe, RegistryClient registry, string checkId, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _probe = probe;
        _registry = registry;
        _checkId = checkId;
        _interval = interval;
        _time = time;
        _logger = logger;
    }

    /// <summary>The TTL to register the app check with: three intervals, so one late report is not an outage.</summary>
    public static TimeSpan TtlFor(TimeSpan interval) => interval * 3;

    public bool Passing => _status == HealthStatus.Passing;

    public string Status => _status;

    public string Output { get; private set; } = "not checked yet";

    public void Start() => _loop = RunAsync(_stop.Token);

    /// <summary>One probe and its report. Exposed so tests can drive it step by step.</summary>
    internal async Task<bool> CheckOnceAsync(CancellationToken cancellationToken)
    {
        var result = await _probe.ProbeAsync(cancellationToken);
        _status = result.Status;
        Output = result.Output;
        try
        {
            await _registry.UpdateCheckAsync(_checkId, result.Status, result.Output, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is HttpRequestException or RegistryException)
        {
            // The control plane may be away; the sidecar keeps checking and reports again next time.
            LogReportFailed(e.Message);
            return false;
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_interval, _time);
        try
        {
            do
            {
                await CheckOnceAsync(cancellationToken);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null) await _loop;
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Could not report the app check: {Reason}")]
    private partial void LogReportFailed(string reason);
}
