using Weft.Core.Text;

namespace Weft.Core.Health;

/// <summary>
/// The check's timeout, linked to the caller's token, so a probe can tell its own timeout (a critical
/// result) from the caller giving up (shutdown, which propagates).
/// </summary>
internal sealed class ProbeTimeout : IDisposable
{
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationTokenSource _linked;
    private readonly CancellationToken _callerToken;

    public ProbeTimeout(TimeSpan timeout, TimeProvider timeProvider, CancellationToken callerToken)
    {
        Duration = timeout;
        _callerToken = callerToken;
        _timeout = new CancellationTokenSource(timeout, timeProvider);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(callerToken, _timeout.Token);
    }

    public TimeSpan Duration { get; }

    /// <summary>Cancelled at the timeout or when the caller cancels.</summary>
    public CancellationToken Token => _linked.Token;

    /// <summary>Go's spelling, as Consul prints durations in check output.</summary>
    public string DurationText => GoDuration.Format(Duration);

    /// <summary>Rethrows if the caller cancelled, so shutdown is never reported as a failed check.</summary>
    public void ThrowIfCallerCancelled() => _callerToken.ThrowIfCancellationRequested();

    public void Dispose()
    {
        _linked.Dispose();
        _timeout.Dispose();
    }
}
