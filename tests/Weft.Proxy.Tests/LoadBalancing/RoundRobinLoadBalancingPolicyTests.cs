using Weft.Proxy.LoadBalancing;
using static Weft.Proxy.Tests.LoadBalancing.TestClusters;

namespace Weft.Proxy.Tests.LoadBalancing;

public sealed class RoundRobinLoadBalancingPolicyTests
{
    [Fact]
    public void Pick_ThreeEqualEndpoints_GivesEachExactlyAThird()
    {
        var cluster = Create(LoadBalancingPolicies.RoundRobin, Endpoints(3));

        var picks = cluster.PickMany(3000);

        Assert.Equal(3, picks.Count);
        Assert.All(picks.Values, count => Assert.Equal(1000, count));
    }

    [Fact]
    public void Pick_WeightsOneToThree_GivesExactly25And75Percent()
    {
        var cluster = Create(LoadBalancingPolicies.RoundRobin, [Endpoint(1, weight: 1), Endpoint(2, weight: 3)]);

        var picks = cluster.PickMany(4000);

        Assert.Equal(1000, picks["web-1"]);
        Assert.Equal(3000, picks["web-2"]);
    }

    [Fact]
    public void Pick_WeightsOneToThree_InterleavesTheLightEndpointOncePerCycle()
    {
        var cluster = Create(LoadBalancingPolicies.RoundRobin, [Endpoint(1, weight: 1), Endpoint(2, weight: 3)]);

        for (var cycle = 0; cycle < 50; cycle++)
        {
            var cyclePicks = cluster.PickMany(4);
            Assert.Equal(1, cyclePicks["web-1"]);
        }
    }

    [Fact]
    public void Pick_WeightsTwoToThree_NeverPicksTheHeavyEndpointThreeTimesInARow()
    {
        var cluster = Create(LoadBalancingPolicies.RoundRobin, [Endpoint(1, weight: 2), Endpoint(2, weight: 3)]);

        var run = 0;
        for (var i = 0; i < 100; i++)
        {
            var endpoint = cluster.Pick(null)!;
            cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.Zero);
            run = endpoint.Endpoint.Id == "web-2" ? run + 1 : 0;
            Assert.True(run <= 2, "smooth weighted round robin spreads the heavy endpoint's turns");
        }
    }
}
