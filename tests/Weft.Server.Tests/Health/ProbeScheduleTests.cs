using Microsoft.Extensions.Time.Testing;
using Weft.Server.Health;

namespace Weft.Server.Tests.Health;

/// <summary>The one timer all interval checks share, on a <see cref="FakeTimeProvider"/>.</summary>
public sealed class ProbeScheduleTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private sealed class RecordingProbe(TimeProvider clock) : IPeriodicProbe
    {
        public List<DateTimeOffset> Fired { get; } = [];

        public bool Stopped { get; set; }

        public void Fire() => Fired.Add(clock.GetUtcNow());
    }

    /// <summary>Moves the clock in steps of <paramref name="step"/>, as a running process would see it.</summary>
    private static void Run(FakeTimeProvider clock, TimeSpan length, TimeSpan step)
    {
        for (var t = TimeSpan.Zero; t < length; t += step) clock.Advance(step);
    }

    [Fact]
    public void AThousandChecks_EachRunsOnTimeEveryInterval_OnAboutFortyFiringsASecond()
    {
        var clock = new FakeTimeProvider(Start);
        using var schedule = new ProbeSchedule(clock);
        var interval = TimeSpan.FromSeconds(10);
        var probes = Enumerable.Range(0, 1000).Select(_ => new RecordingProbe(clock)).ToArray();
        for (var i = 0; i < probes.Length; i++)
            schedule.Add(probes[i], TimeSpan.FromMilliseconds(i * 10 + 3), interval);

        var step = TimeSpan.FromMilliseconds(1);
        // Three intervals, and time for the last probe's third run to be a tick late.
        var length = 3 * interval + 2 * ProbeSchedule.Tick;
        Run(clock, length, step);

        var end = Start + length;
        var slack = ProbeSchedule.Tick + step;
        for (var i = 0; i < probes.Length; i++)
        {
            var first = Start + TimeSpan.FromMilliseconds(i * 10 + 3);
            var dues = Enumerable.Range(0, 5).Select(k => first + k * interval).ToArray();
            // Every run due a tick before the end has started; none due after the end has.
            Assert.InRange(probes[i].Fired.Count, dues.Count(d => d <= end - slack), dues.Count(d => d <= end));
            for (var run = 0; run < probes[i].Fired.Count; run++)
            {
                var late = probes[i].Fired[run] - dues[run];
                Assert.True(late >= TimeSpan.Zero, $"probe {i} run {run} started {-late.TotalMilliseconds} ms early");
                Assert.True(late <= slack, $"probe {i} run {run} started {late.TotalMilliseconds} ms late");
            }
        }

        // A timer each would have fired 3,000 times; one that fires at most once a tick, 30 s / 25 ms.
        Assert.InRange(schedule.Firings, 1, (long)(length / ProbeSchedule.Tick) + 1);
    }

    [Fact]
    public void StoppedCheck_RunsNoMore_AndLeavesTheSchedule()
    {
        var clock = new FakeTimeProvider(Start);
        using var schedule = new ProbeSchedule(clock);
        var kept = new RecordingProbe(clock);
        var stopped = new RecordingProbe(clock);
        schedule.Add(kept, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        schedule.Add(stopped, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        Run(clock, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(5));
        Assert.Single(stopped.Fired);

        stopped.Stopped = true;
        Run(clock, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5));

        Assert.Single(stopped.Fired);
        Assert.Equal(3, kept.Fired.Count);
        Assert.Equal(1, schedule.Count);
    }

    [Fact]
    public void AfterAPause_ACheckRunsOnce_ThenKeepsItsPhase()
    {
        var clock = new FakeTimeProvider(Start);
        using var schedule = new ProbeSchedule(clock);
        var probe = new RecordingProbe(clock);
        schedule.Add(probe, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10));
        Run(clock, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(5));
        Assert.Single(probe.Fired);

        // The process stops for 35 s (three runs missed), then time moves on normally.
        clock.Advance(TimeSpan.FromSeconds(35));
        Assert.Equal(2, probe.Fired.Count);
        Run(clock, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5));

        Assert.Equal(3, probe.Fired.Count);
        var late = probe.Fired[2] - (Start + TimeSpan.FromSeconds(42));
        Assert.InRange(late, TimeSpan.Zero, ProbeSchedule.Tick + TimeSpan.FromMilliseconds(5));
    }

    [Fact]
    public void ACheckAddedSoonerThanTheTimerIsSet_IsNotHeldBackByIt()
    {
        var clock = new FakeTimeProvider(Start);
        using var schedule = new ProbeSchedule(clock);
        var later = new RecordingProbe(clock);
        var sooner = new RecordingProbe(clock);
        schedule.Add(later, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));
        schedule.Add(sooner, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));

        Run(clock, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(5));

        Assert.Single(sooner.Fired);
        Assert.Empty(later.Fired);
    }

    [Fact]
    public void ChecksReplacedFasterThanTheirIntervals_DoNotPileUpInTheSchedule()
    {
        var clock = new FakeTimeProvider(Start);
        using var schedule = new ProbeSchedule(clock);
        var kept = Enumerable.Range(0, 100).Select(_ => new RecordingProbe(clock)).ToArray();
        foreach (var probe in kept) schedule.Add(probe, TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));

        // A client re-registers one check with a new definition 5,000 times, well within its hour.
        for (var i = 0; i < 5_000; i++)
        {
            var replaced = new RecordingProbe(clock);
            schedule.Add(replaced, TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));
            replaced.Stopped = true;
            schedule.Stopped();
        }

        Assert.InRange(schedule.Count, kept.Length, kept.Length + 1024 + 1);
        clock.Advance(TimeSpan.FromMinutes(31));
        Assert.All(kept, probe => Assert.Single(probe.Fired));
    }

    /// <summary>A clock whose timers wake a millisecond early, as the runtime's coarse timers can.</summary>
    private sealed class EarlyTimersClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(1);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new EarlyTimer(base.CreateTimer(callback, state, Sooner(dueTime), period));

        private static TimeSpan Sooner(TimeSpan due) => due > Early ? due - Early : due;

        private sealed class EarlyTimer(ITimer inner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(Sooner(dueTime), period);

            public void Dispose() => inner.Dispose();

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    [Fact]
    public void TimerWakingJustBeforeItsTime_DoesNotPutTheProbeOffByATick()
    {
        var clock = new EarlyTimersClock(Start);
        using var schedule = new ProbeSchedule(clock);
        var probe = new RecordingProbe(clock);
        schedule.Add(probe, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));

        var step = TimeSpan.FromMilliseconds(1);
        Run(clock, TimeSpan.FromSeconds(2), step);

        var fired = Assert.Single(probe.Fired);
        Assert.InRange(fired - (Start + TimeSpan.FromSeconds(1)), TimeSpan.Zero, TimeSpan.FromMilliseconds(3));
    }
}
