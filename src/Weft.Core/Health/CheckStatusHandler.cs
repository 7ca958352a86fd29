using Weft.Core.Catalog;

namespace Weft.Core.Health;

/// <summary>
/// Consul's StatusHandler: holds a probe's result back until it has been seen enough times in a row,
/// per <c>SuccessBeforePassing</c>, <c>FailuresBeforeWarning</c> and <c>FailuresBeforeCritical</c>.
/// One instance per running check; not thread-safe, as the scheduler runs a check's probes one at a time.
/// </summary>
/// <remarks>
/// As in Consul's agent/checks/check.go, a warning result counts with passing ones: it resets the failure
/// count, adds to the success count and is reported once that reaches <c>SuccessBeforePassing</c>. A
/// critical result resets the success count; enough of them in a row report critical, fewer but at least
/// <c>FailuresBeforeWarning</c> report warning. A threshold of 0 or 1 reports at once.
/// <para>
/// One difference from Consul: Consul starts both counters at their thresholds, so a fresh handler reports
/// its first result whatever it is, even a new check's first success with SuccessBeforePassing = 3
/// (hashicorp/consul#10256). Weft starts them from the check's current status, so thresholds also hold for
/// a check's first results and across server restarts: a passing check has earned its successes, a critical
/// one its failures, and a warning one the failures that make a warning.
/// </para>
/// </remarks>
internal sealed class CheckStatusHandler
{
    private readonly int _successBeforePassing;
    private readonly int _failuresBeforeWarning;
    private readonly int _failuresBeforeCritical;
    private int _successes;
    private int _failures;

    public CheckStatusHandler(CheckDefinition definition, string currentStatus)
    {
        _successBeforePassing = Math.Max(0, definition.SuccessBeforePassing);
        _failuresBeforeCritical = Math.Max(0, definition.FailuresBeforeCritical);
        // Consul >= 1.11: an unset warning threshold means "warn when critical would be reported".
        _failuresBeforeWarning = definition.FailuresBeforeWarning > 0 ? definition.FailuresBeforeWarning : _failuresBeforeCritical;

        switch (currentStatus)
        {
            case HealthStatus.Passing:
                _successes = _successBeforePassing;
                break;
            case HealthStatus.Warning:
                _failures = _failuresBeforeWarning;
                break;
            default:
                _failures = _failuresBeforeCritical;
                break;
        }
    }

    /// <summary>The status to report for this probe result, or null to keep the check's status (and output) as it is.</summary>
    public string? Next(string probedStatus)
    {
        if (probedStatus is HealthStatus.Passing or HealthStatus.Warning)
        {
            _successes = Increment(_successes);
            _failures = 0;
            return _successes >= _successBeforePassing ? probedStatus : null;
        }

        // Anything else, an unknown status included, is a failure, as in Consul.
        _failures = Increment(_failures);
        _successes = 0;
        if (_failures >= _failuresBeforeCritical)
            return HealthStatus.Critical;
        return _failures >= _failuresBeforeWarning ? HealthStatus.Warning : null;
    }

    // A check failing every second for decades must not wrap around to "not enough failures".
    private static int Increment(int count) => count == int.MaxValue ? count : count + 1;
}
