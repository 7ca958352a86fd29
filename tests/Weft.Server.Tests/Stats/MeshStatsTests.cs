using Microsoft.Extensions.Time.Testing;
using Weft.Core.Mesh.Protocol;
using Weft.Core.Metrics;
using Weft.Server.Stats;
using ProtoStats = Weft.Core.Mesh.Protocol.Stats;

namespace Weft.Server.Tests.Stats;

/// <summary>The server's arithmetic over the sidecars' cumulative reports, on a fake clock.</summary>
public sealed class MeshStatsTests
{
    // A slot boundary: slots are 5 s of Unix time.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private static ProtoStats Report(long started, params RouteCounters[] routes)
    {
        var s = new ProtoStats { StartedUnixMs = started, Version = "1.0.0" };
        s.Routes.AddRange(routes);
        return s;
    }

    /// <summary>Counters as a sidecar keeps them: <paramref name="ok"/> 2xx, <paramref name="failed"/> 5xx, all in latency bucket <paramref name="bucket"/>.</summary>
    private static RouteCounters Route(string direction, string peer, long ok, long failed, int bucket = 3, string route = "default", long weftErrors = 0)
    {
        var r = new RouteCounters { Direction = direction, Peer = peer, Route = route, WeftErrors = (ulong)weftErrors };
        r.StatusClasses.AddRange([0, 0, (ulong)ok, 0, 0, (ulong)failed]);
        for (var i = 0; i <= Histogram.LatencyBoundsSeconds.Length; i++)
            r.LatencyBuckets.Add(i == bucket ? (ulong)(ok + failed) : 0);
        return r;
    }

    [Fact]
    public void Window_CountsTheDifferencesBetweenReports_AsRateAndSuccessRate()
    {
        var stats = new MeshStats(_time);
        _time.Advance(TimeSpan.FromSeconds(1));
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "web", ok: 90, failed: 10)));
        _time.Advance(TimeSpan.FromSeconds(2));
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "web", ok: 180, failed: 20)));

        // The slot is still open: queries read completed slots only.
        Assert.Equal(0, stats.View(TimeSpan.FromSeconds(5)).Window("orders").RequestsPerSecond);

        _time.Advance(TimeSpan.FromSeconds(2));
        var signals = stats.View(TimeSpan.FromSeconds(5)).Window("orders");
        Assert.Equal(200 / 5.0, signals.RequestsPerSecond, 6);
        Assert.Equal(0.9, signals.SuccessRate!.Value, 6);

        var minute = stats.View(TimeSpan.FromSeconds(60)).Window("orders");
        Assert.Equal(200 / 60.0, minute.RequestsPerSecond, 6);
    }

    [Fact]
    public void Lag_AReportShowsTheMomentItsSlotCloses_SoAtMostOneSlotAfterItArrived()
    {
        // The worst case: a report that arrives just after a slot opened waits the whole 5 s slot.
        var stats = new MeshStats(_time);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "web", ok: 50, failed: 0)));

        _time.Advance(MeshStats.SlotLength - TimeSpan.FromMilliseconds(2));
        Assert.Equal(0, stats.View(TimeSpan.FromSeconds(5)).Window("orders").RequestsPerSecond);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(50 / 5.0, stats.View(TimeSpan.FromSeconds(5)).Window("orders").RequestsPerSecond, 6);
    }

    [Fact]
    public void Quantiles_InterpolateWithinTheBucketThatHoldsTheRank()
    {
        var stats = new MeshStats(_time);
        // 100 requests in bucket 3: (0.0005 s, 0.001 s].
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "web", ok: 100, failed: 0, bucket: 3)));
        _time.Advance(TimeSpan.FromSeconds(5));

        var signals = stats.View(TimeSpan.FromSeconds(5)).Window("orders");
        Assert.Equal(0.00075, signals.P50Seconds!.Value, 9);
        Assert.Equal(0.000995, signals.P99Seconds!.Value, 9);
    }

    [Fact]
    public void Quantiles_AboveTheLastBound_AreTheLastBound_AndSplitAcrossBuckets()
    {
        var stats = new MeshStats(_time);
        var fast = Route("inbound", "web", ok: 98, failed: 0, bucket: 0);
        var slow = Route("inbound", "web", ok: 2, failed: 0, bucket: Histogram.LatencyBoundsSeconds.Length, route: "slow");
        stats.Report("orders-1", "orders", Report(1, fast, slow));
        _time.Advance(TimeSpan.FromSeconds(5));

        var signals = stats.View(TimeSpan.FromSeconds(5)).Window("orders");
        Assert.Equal(0.0001 * 50 / 98, signals.P50Seconds!.Value, 9);
        Assert.Equal(30, signals.P99Seconds!.Value);
    }

    [Fact]
    public void SidecarRestart_CountersBackToZero_CountTheNewValuesNotANegativeDifference()
    {
        var stats = new MeshStats(_time);
        stats.Report("orders-1", "orders", Report(started: 1, Route("inbound", "web", ok: 100, failed: 0)));
        _time.Advance(TimeSpan.FromSeconds(2));
        // Restarted: a new start time, counting from zero.
        stats.Report("orders-1", "orders", Report(started: 2, Route("inbound", "web", ok: 30, failed: 0)));
        _time.Advance(TimeSpan.FromSeconds(1));
        // The same start time but lower counters (a restart whose clock did not move): also a reset.
        stats.Report("orders-1", "orders", Report(started: 2, Route("inbound", "web", ok: 10, failed: 0)));
        _time.Advance(TimeSpan.FromSeconds(2));

        var signals = stats.View(TimeSpan.FromSeconds(5)).Window("orders");
        Assert.Equal((100 + 30 + 10) / 5.0, signals.RequestsPerSecond, 6);
        Assert.Equal(1.0, signals.SuccessRate);
    }

    [Fact]
    public void WeftErrorsBelow500_AreNotSuccesses()
    {
        var stats = new MeshStats(_time);
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "web", ok: 10, failed: 0, weftErrors: 5)));
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(0.5, stats.View(TimeSpan.FromSeconds(5)).Window("orders").SuccessRate);
    }

    [Fact]
    public void ServiceWithoutSidecars_TakesItsSignalsFromItsCallers_AndEdgesSayWhoCallsWhom()
    {
        var stats = new MeshStats(_time);
        stats.Report("web-1", "web", Report(1, Route("outbound", "legacy", ok: 40, failed: 10), Route("outbound", "orders", ok: 20, failed: 0)));
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "unknown", ok: 25, failed: 0)));
        _time.Advance(TimeSpan.FromSeconds(5));

        var view = stats.View(TimeSpan.FromSeconds(5));
        Assert.Equal(50 / 5.0, view.Window("legacy").RequestsPerSecond, 6);
        Assert.Equal(0.8, view.Window("legacy").SuccessRate!.Value, 6);
        // orders has a sidecar: its own inbound count, not what web saw.
        Assert.Equal(25 / 5.0, view.Window("orders").RequestsPerSecond, 6);
        Assert.Null(view.Window("nobody").SuccessRate);

        var edges = view.Edges().Select(e => (e.Source, e.Destination, e.Signals.RequestsPerSecond)).ToList();
        Assert.Equal([("web", "legacy", 10.0), ("web", "orders", 4.0)], edges);
    }

    [Fact]
    public void History_HasOnePointPerSlotForTenMinutes_OldestFirst_AndForgetsOlderTraffic()
    {
        var stats = new MeshStats(_time);
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "web", ok: 50, failed: 0)));
        _time.Advance(TimeSpan.FromSeconds(5));

        var history = stats.View(TimeSpan.FromSeconds(60)).History("orders").ToList();
        Assert.Equal(MeshStats.SlotCount, history.Count);
        Assert.Equal(10.0, history[^1].Signals.RequestsPerSecond);
        Assert.Equal(_time.GetUtcNow() - TimeSpan.FromSeconds(5), history[^1].Time);
        Assert.True(history.Take(history.Count - 1).All(p => p.Signals.RequestsPerSecond == 0 && p.Signals.SuccessRate is null));

        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.All(stats.View(TimeSpan.FromSeconds(60)).History("orders"), p => Assert.Equal(0, p.Signals.RequestsPerSecond));
    }

    [Fact]
    public void Routes_SplitAServicesSignals()
    {
        var stats = new MeshStats(_time);
        stats.Report("orders-1", "orders", Report(1, Route("inbound", "web", ok: 10, failed: 0, route: "list"), Route("inbound", "web", ok: 5, failed: 5, route: "create")));
        _time.Advance(TimeSpan.FromSeconds(5));

        var routes = stats.View(TimeSpan.FromSeconds(5)).Routes("orders").ToDictionary(r => r.Route, r => r.Signals);
        Assert.Equal(2.0, routes["list"].RequestsPerSecond);
        Assert.Equal(0.5, routes["create"].SuccessRate);
    }
}
