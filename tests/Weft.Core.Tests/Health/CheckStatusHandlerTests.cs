using Weft.Core.Catalog;
using Weft.Core.Health;

namespace Weft.Core.Tests.Health;

/// <summary>Sequences read as one letter per probe result: P passing, W warning, C critical, - withheld.</summary>
public sealed class CheckStatusHandlerTests
{
    private const string P = HealthStatus.Passing;
    private const string W = HealthStatus.Warning;
    private const string C = HealthStatus.Critical;

    private static CheckStatusHandler Handler(string current, int successBeforePassing = 0, int failuresBeforeWarning = 0, int failuresBeforeCritical = 0) =>
        new(new CheckDefinition
        {
            Type = CheckTypes.Http,
            SuccessBeforePassing = successBeforePassing,
            FailuresBeforeWarning = failuresBeforeWarning,
            FailuresBeforeCritical = failuresBeforeCritical,
        }, current);

    private static string Feed(CheckStatusHandler handler, string probed) =>
        string.Concat(probed.Select(letter => handler.Next(letter switch { 'P' => P, 'W' => W, _ => C }) switch
        {
            P => 'P',
            W => 'W',
            C => 'C',
            null => '-',
            _ => '?',
        }));

    [Fact]
    public void Next_NoThresholds_ReportsEveryResultAsProbed()
    {
        Assert.Equal("PCWCP", Feed(Handler(C), "PCWCP"));
    }

    [Fact]
    public void Next_NewCriticalCheckNeedingThreeSuccesses_WithholdsTheFirstTwo()
    {
        Assert.Equal("--PP", Feed(Handler(C, successBeforePassing: 3), "PPPP"));
    }

    [Fact]
    public void Next_FailureBetweenSuccesses_RestartsTheSuccessCount()
    {
        Assert.Equal("-C--P", Feed(Handler(C, successBeforePassing: 3), "PCPPP"));
    }

    [Fact]
    public void Next_PassingCheckNeedingThreeFailures_StaysQuietUntilTheThird()
    {
        Assert.Equal("--C", Feed(Handler(P, failuresBeforeCritical: 3), "CCC"));
    }

    [Fact]
    public void Next_SuccessBetweenFailures_RestartsTheFailureCount()
    {
        Assert.Equal("--P--C", Feed(Handler(P, failuresBeforeCritical: 3), "CCPCCC"));
    }

    [Fact]
    public void Next_WarningThresholdBelowCritical_WarnsBeforeGoingCritical()
    {
        Assert.Equal("-WWC", Feed(Handler(P, failuresBeforeWarning: 2, failuresBeforeCritical: 4), "CCCC"));
    }

    [Fact]
    public void Next_WarningThresholdUnset_DefaultsToTheCriticalThreshold()
    {
        Assert.Equal("-C", Feed(Handler(P, failuresBeforeCritical: 2), "CC"));
    }

    [Fact]
    public void Next_WarningResult_CountsAsSuccessAndResetsFailures()
    {
        // As in Consul, a warning from the probe (HTTP 429, exit 1) breaks a run of failures.
        Assert.Equal("-W-C", Feed(Handler(P, failuresBeforeCritical: 2), "CWCC"));
    }

    [Fact]
    public void Next_WarningResult_WaitsForTheSuccessThresholdLikePassing()
    {
        Assert.Equal("-W", Feed(Handler(C, successBeforePassing: 2), "WW"));
    }

    [Fact]
    public void Next_CheckAlreadyWarningFromFailures_ContinuesTowardsCritical()
    {
        Assert.Equal("WC", Feed(Handler(W, failuresBeforeWarning: 1, failuresBeforeCritical: 3), "CC"));
    }

    [Fact]
    public void Next_CheckAlreadyPassing_ReportsTheNextSuccessAtOnce()
    {
        Assert.Equal("P", Feed(Handler(P, successBeforePassing: 3), "P"));
    }

    [Fact]
    public void Next_CheckAlreadyCritical_ReportsTheNextFailureAtOnce()
    {
        Assert.Equal("C", Feed(Handler(C, failuresBeforeCritical: 3), "C"));
    }
}
