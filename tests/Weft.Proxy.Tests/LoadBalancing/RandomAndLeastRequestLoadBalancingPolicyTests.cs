using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.LoadBalancing;
using static Weft.Proxy.Tests.LoadBalancing.TestClusters;

namespace Weft.Proxy.Tests.LoadBalancing;

public sealed class RandomAndLeastRequestLoadBalancingPolicyTests
{
    [Fact]
    public void RandomPick_ThreeEqualEndpoints_StaysWithinFivePercentOfAThirdEach()
    {
        var cluster = Create(LoadBalancingPolicies.Random, Endpoints(3), seed: 7);

        var picks = cluster.PickMany(30_000);

        Assert.All(picks.Values, count => Assert.InRange(count, 9_500, 10_500));
    }

    [Fact]
    public void RandomPick_WeightsOneToThree_StaysNear25And75Percent()
    {
        var cluster = Create(LoadBalancingPolicies.Random, [Endpoint(1, weight: 1), Endpoint(2, weight: 3)], seed: 7);

        var picks = cluster.PickMany(40_000);

        Assert.InRange(picks["web-1"], 9_500, 10_500);
        Assert.InRange(picks["web-2"], 29_500, 30_500);
    }

    [Fact]
    public void LeastRequestPick_EqualLoad_SpreadsEvenly()
    {
        var cluster = Create(LoadBalancingPolicies.LeastRequest, Endpoints(4), seed: 7);

        var picks = cluster.PickMany(40_000);

        Assert.All(picks.Values, count => Assert.InRange(count, 9_500, 10_500));
    }

    [Fact]
    public void LeastRequestPick_OneEndpointBusy_SendsMostPicksToTheIdleOne()
    {
        var cluster = Create(LoadBalancingPolicies.LeastRequest, Endpoints(2), seed: 7);
        var busy = cluster.ById("web-2");
        for (var i = 0; i < 5; i++)
            busy.BeginAttempt();

        var picks = cluster.PickMany(10_000);

        // Two draws with replacement: the busy endpoint wins only when drawn twice, a quarter of the time.
        Assert.InRange(picks["web-1"], 7_000, 8_000);
    }

    [Fact]
    public void LeastRequestPick_ChoiceCountFourOfFour_AlmostAlwaysAvoidsTheBusyEndpoint()
    {
        var settings = new ClusterSettings { Policy = LoadBalancingPolicies.LeastRequest, ChoiceCount = 4 };
        var cluster = Create(settings, new FakeTimeProvider(), Endpoints(4), seed: 7);
        var busy = cluster.ById("web-4");
        busy.BeginAttempt();

        var picks = cluster.PickMany(10_000);

        // Busy only when all four draws hit it: (1/4)^4 of picks.
        Assert.InRange(picks.GetValueOrDefault("web-4"), 0, 100);
    }

    [Fact]
    public void LeastRequestPick_FastAndSlowEndpointUnderLoad_FavoursTheFastOne()
    {
        var time = new FakeTimeProvider();
        var cluster = Create(LoadBalancingPolicies.LeastRequest, Endpoints(2), time, seed: 7);

        var picks = cluster.Simulate(time, 5_000, e => e.Endpoint.Id == "web-1" ? 5 : 50);

        // The slow endpoint piles up outstanding requests; it still wins the quarter of picks that draw it twice.
        Assert.True(picks["web-1"] > 3_250, $"fast endpoint got {picks["web-1"]} of 5000");
    }

    [Fact]
    public void LeastRequestPick_WeightsOneToThreeAtEqualLoad_FavoursTheHeavyEndpoint()
    {
        var cluster = Create(LoadBalancingPolicies.LeastRequest, [Endpoint(1, weight: 1), Endpoint(2, weight: 3)], seed: 7);

        var picks = cluster.PickMany(10_000);

        Assert.InRange(picks["web-2"], 7_000, 8_000);
    }
}
