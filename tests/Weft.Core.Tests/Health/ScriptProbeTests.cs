using System.Collections.Immutable;
using System.Globalization;
using Weft.Core.Catalog;
using Weft.Core.Health;

namespace Weft.Core.Tests.Health;

public sealed class ScriptProbeTests
{
    private static ScriptProbe Probe(TimeSpan timeout, params string[] args) =>
        new(new CheckDefinition { Type = CheckTypes.Script, Args = [.. args], Timeout = timeout }, TimeProvider.System);

    private static ScriptProbe Probe(params string[] args) => Probe(TimeSpan.FromSeconds(30), args);

    [Fact]
    public async Task Probe_ExitsZero_ReportsPassingWithItsOutput()
    {
        var result = await Probe("echo", "all", "good").ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Passing, "all good\n"), result);
    }

    [Fact]
    public async Task Probe_ExitsOne_ReportsWarning()
    {
        var result = await Probe("/bin/sh", "-c", "echo degraded; exit 1").ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Warning, "degraded\n"), result);
    }

    [Fact]
    public async Task Probe_ExitsTwo_ReportsCriticalWithStderr()
    {
        var result = await Probe("/bin/sh", "-c", "echo broken >&2; exit 2").ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Critical, "broken\n"), result);
    }

    [Fact]
    public async Task Probe_ArgumentsWithShellCharacters_PassedLiterallyWithoutAShell()
    {
        var result = await Probe("echo", "$HOME; exit 3").ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Passing, "$HOME; exit 3\n"), result);
    }

    [Fact]
    public async Task Probe_HugeOutput_KeepsOnly4KiBAndSaysSo()
    {
        var result = await Probe("/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a").ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Passing, result.Status);
        Assert.Equal("Captured 4096 of 100000 bytes\n...\n" + new string('a', 4096), result.Output);
    }

    [Fact]
    public async Task Probe_CommandMissing_ReportsCritical()
    {
        var result = await Probe("/nonexistent/check-script").ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith("failed to start /nonexistent/check-script", result.Output);
    }

    [Fact]
    public async Task Probe_NoArgs_ReportsCritical()
    {
        var result = await Probe().ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
    }

    [Fact]
    public async Task Probe_RunsPastTimeout_KillsItAndReportsCritical()
    {
        // The shell prints its pid, then becomes `sleep 5` under that same pid.
        var result = await Probe(TimeSpan.FromMilliseconds(200), "/bin/sh", "-c", "echo $$; exec sleep 5").ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith("Timed out (200ms) running check\n\n", result.Output);
        var pid = int.Parse(result.Output.Split('\n')[2], CultureInfo.InvariantCulture);
        Assert.False(IsRunning(pid), $"sleep (pid {pid}) survived the timeout");
    }

    [Fact]
    public async Task Probe_RunsPastTimeout_KillsChildProcessesToo()
    {
        var result = await Probe(TimeSpan.FromMilliseconds(200), "/bin/sh", "-c", "sleep 5 & echo $!; wait").ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        var pid = int.Parse(result.Output.Split('\n')[2], CultureInfo.InvariantCulture);
        // The kill is sent before the probe returns, but the kernel finishes a grandchild's SIGKILL on its
        // own schedule; waiting up to 3 s still tells a killed sleep from one that runs its full 5 s.
        Assert.True(SpinWait.SpinUntil(() => !IsRunning(pid), TimeSpan.FromSeconds(3)), $"the script's child sleep (pid {pid}) survived the timeout");
    }

    [Fact]
    public async Task Probe_ChildEscapesTheTreeHoldingTheOutput_TimesOutInsteadOfHanging()
    {
        // setsid puts sleep outside the script's process tree, still holding its stdout open.
        var result = await Probe(TimeSpan.FromMilliseconds(200), "/bin/sh", "-c", "setsid sleep 5 & echo $!").ProbeAsync(CancellationToken.None);
        var pid = int.Parse(result.Output.Split('\n')[2], CultureInfo.InvariantCulture);
        using (var escaped = System.Diagnostics.Process.GetProcessById(pid))
            escaped.Kill();

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith("Timed out (200ms) running check\n\n", result.Output);
    }

    [Fact]
    public async Task Probe_CallerCancels_KillsAndThrows()
    {
        using var shutdown = new CancellationTokenSource();
        var pending = Probe("sleep", "5").ProbeAsync(shutdown.Token).AsTask();

        await shutdown.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    /// <summary>Alive unless gone from /proc or a zombie awaiting its reaper; a killed process is one of those.</summary>
    private static bool IsRunning(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return false;
        }

        var state = stat[(stat.LastIndexOf(')') + 2)..][0];
        return state is not ('Z' or 'X');
    }
}
