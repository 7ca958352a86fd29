using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.LoadBalancing;
using static Weft.Proxy.Tests.LoadBalancing.TestClusters;

namespace Weft.Proxy.Tests.LoadBalancing;

public sealed class PeakEwmaLoadBalancingPolicyTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void LatencyEwma_BeforeAnyReport_IsTheDefaultRtt()
    {
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(1));

        Assert.Equal(30, cluster.Endpoints[0].LatencyEwmaMs);
    }

    /// <summary>
    /// The latency estimate of a lone endpoint that reported <paramref name="firstMs"/> (a success), then
    /// <paramref name="gap"/> later <paramref name="secondMs"/> with <paramref name="outcome"/>.
    /// </summary>
    private static double LatencyEwmaAfter(double firstMs, TimeSpan gap, AttemptOutcome outcome, double secondMs)
    {
        var time = new FakeTimeProvider();
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(1), time);
        var endpoint = cluster.Endpoints[0];
        cluster.Report(endpoint, AttemptOutcome.Success, Ms(firstMs));
        time.Advance(gap);
        cluster.Report(endpoint, outcome, Ms(secondMs));
        return endpoint.LatencyEwmaMs;
    }

    [Fact]
    public void LatencyEwma_HigherSample_IsTakenAtOnce()
    {
        Assert.Equal(50, LatencyEwmaAfter(5, Ms(1), AttemptOutcome.Success, 50), precision: 6);
    }

    [Fact]
    public void LatencyEwma_LowerSampleTenSecondsLater_MovesOneTimeConstantTowardIt()
    {
        var expected = (50 * Math.Exp(-1)) + (5 * (1 - Math.Exp(-1)));
        Assert.Equal(expected, LatencyEwmaAfter(50, TimeSpan.FromSeconds(10), AttemptOutcome.Success, 5), precision: 6);
    }

    [Fact]
    public void LatencyEwma_FastFailure_DoesNotMakeTheEndpointLookFast()
    {
        Assert.Equal(40, LatencyEwmaAfter(40, TimeSpan.FromSeconds(30), AttemptOutcome.ConnectFailure, 1), precision: 6);
    }

    [Fact]
    public void Pick_AfterReportsOf5And50Ms_SendsAlmostEverythingToTheFastEndpoint()
    {
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(2));
        cluster.Report(cluster.ById("web-1"), AttemptOutcome.Success, Ms(5));
        cluster.Report(cluster.ById("web-2"), AttemptOutcome.Success, Ms(50));

        var picks = cluster.PickMany(1000, e => e.Endpoint.Id == "web-1" ? 5 : 50);

        Assert.Equal(1000, picks["web-1"]);
    }

    [Fact]
    public void Pick_FastAndSlowEndpointUnderLoad_FavoursTheFastOne()
    {
        var time = new FakeTimeProvider();
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(2), time);

        var picks = cluster.Simulate(time, 5_000, e => e.Endpoint.Id == "web-1" ? 5 : 50);

        Assert.True(picks["web-1"] > 4_000, $"fast endpoint got {picks["web-1"]} of 5000");
    }

    [Fact]
    public void Pick_OutstandingRequests_OutweighALowerLatency()
    {
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(2));
        cluster.Report(cluster.ById("web-1"), AttemptOutcome.Success, Ms(5));
        cluster.Report(cluster.ById("web-2"), AttemptOutcome.Success, Ms(20));
        var fast = cluster.ById("web-1");
        for (var i = 0; i < 9; i++)
            fast.BeginAttempt();

        // 5 ms × 10 outstanding costs more than 20 ms × 1.
        var picked = cluster.Pick(null);

        Assert.Equal("web-2", picked!.Endpoint.Id);
    }

    [Fact]
    public void Pick_NeverSampledEndpoint_CostsTheDefaultRtt()
    {
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(3));
        cluster.Report(cluster.ById("web-1"), AttemptOutcome.Success, Ms(5));
        cluster.Report(cluster.ById("web-2"), AttemptOutcome.Success, Ms(50));

        var picks = cluster.PickMany(3000, e => e.Endpoint.Id == "web-1" ? 5 : e.Endpoint.Id == "web-2" ? 50 : 30);

        // Each pair decides by cost: 5 ms beats 30 ms (unsampled) beats 50 ms.
        Assert.Equal(0, picks.GetValueOrDefault("web-2"));
        Assert.InRange(picks["web-1"], 1_800, 2_200);
        Assert.InRange(picks["web-3"], 800, 1_200);
    }

    [Fact]
    public void Pick_NewEndpointAmongFastPeers_IsTriedOnceItsDefaultRttHasDecayed()
    {
        // Peers answering in 1 ms beat an unsampled endpoint's 30 ms default in every pair, so it gets nothing at
        // first; its default decays from when it joined (as tower's does), so it is tried after a few time constants.
        var time = new FakeTimeProvider();
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(3), time);
        void KeepPeersFresh()
        {
            cluster.Report(cluster.ById("web-1"), AttemptOutcome.Success, Ms(1));
            cluster.Report(cluster.ById("web-2"), AttemptOutcome.Success, Ms(1));
        }

        KeepPeersFresh();
        var atFirst = cluster.PickMany(1000, _ => 1);
        Assert.Equal(0, atFirst.GetValueOrDefault("web-3"));

        for (var second = 0; second < 40; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            KeepPeersFresh();
        }

        var later = cluster.PickMany(1000, _ => 1);
        Assert.True(later.GetValueOrDefault("web-3") > 0, "the new endpoint was still never picked 40 s after it joined");
    }

    [Fact]
    public void Pick_SlowEndpointRecovers_WinsBackItsShareAsTheEwmaDecays()
    {
        var time = new FakeTimeProvider();
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(2), time);
        var slow = cluster.ById("web-2");
        var whileSlow = cluster.Simulate(time, 5_000, e => e == slow ? 50 : 5);
        Assert.True(whileSlow["web-2"] < 1_000, $"slow endpoint got {whileSlow["web-2"]} of 5000");

        // It recovers: both answer in 5 ms from now on. A minute is six time constants.
        cluster.Simulate(time, 60_000, _ => 5);
        var recovered = cluster.Simulate(time, 5_000, _ => 5);

        Assert.InRange(slow.LatencyEwmaMs, 5, 6);
        Assert.InRange(recovered["web-2"], 1_750, 3_250);
    }

    [Fact]
    public void Pick_SlowEndpointLeftIdle_IsTriedAgainOnceItsEstimateDecays()
    {
        var time = new FakeTimeProvider();
        var cluster = Create(LoadBalancingPolicies.PeakEwma, Endpoints(2), time);
        cluster.Report(cluster.ById("web-1"), AttemptOutcome.Success, Ms(5));
        cluster.Report(cluster.ById("web-2"), AttemptOutcome.Success, Ms(50));

        // Only the fast endpoint reports for 30 s; the slow one's estimate decays toward zero, 50·e^-3 ≈ 2.5 ms.
        time.Advance(TimeSpan.FromSeconds(30));
        cluster.Report(cluster.ById("web-1"), AttemptOutcome.Success, Ms(5));

        Assert.Equal("web-2", cluster.Pick(null)!.Endpoint.Id);
    }
}
