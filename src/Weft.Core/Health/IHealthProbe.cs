namespace Weft.Core.Health;

/// <summary>Runs one health check once.</summary>
/// <remarks>
/// A probe enforces the check's own timeout and reports it, like every network or process error, as a
/// critical <see cref="ProbeResult"/>. It throws <see cref="OperationCanceledException"/> only when the
/// caller's token is cancelled, which the scheduler does when the server shuts down.
/// </remarks>
internal interface IHealthProbe
{
    ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken);
}
