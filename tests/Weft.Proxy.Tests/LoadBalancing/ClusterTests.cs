using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.LoadBalancing;
using static Weft.Proxy.Tests.LoadBalancing.TestClusters;

namespace Weft.Proxy.Tests.LoadBalancing;

public sealed class ClusterTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Pick_NoEndpoints_ReturnsNull()
    {
        var cluster = new Cluster("web", ClusterSettings.Default, _time);

        Assert.Null(cluster.Pick(null));
    }

    [Fact]
    public void Pick_CountsTheAttemptAsOutstanding_AndReportEndsItExactlyOnce()
    {
        var cluster = Create(LoadBalancingPolicies.RoundRobin, Endpoints(1), _time);

        var first = cluster.Pick(null)!;
        var second = cluster.Pick(null)!;
        Assert.Same(first, second);
        Assert.Equal(2, first.Outstanding);

        cluster.Report(first, AttemptOutcome.Success, TimeSpan.FromMilliseconds(3));
        Assert.Equal(1, first.Outstanding);
        cluster.Report(second, AttemptOutcome.Cancelled, TimeSpan.FromMilliseconds(3));
        Assert.Equal(0, first.Outstanding);

        // A stray extra report must not make the endpoint look idler than idle.
        cluster.Report(first, AttemptOutcome.Success, TimeSpan.FromMilliseconds(3));
        Assert.Equal(0, first.Outstanding);
        Assert.Equal(2, first.Attempts);
    }

    [Fact]
    public void Update_EndpointsThatStay_KeepOutstandingLatencyAndEjection()
    {
        var settings = new ClusterSettings { Outlier = new OutlierSettings { MaxEjectionPercent = 100 } };
        var cluster = Create(settings, _time, Endpoints(3));
        var kept = cluster.ById("web-1");
        var ejected = cluster.ById("web-2");
        kept.BeginAttempt();
        cluster.Report(kept, AttemptOutcome.Success, TimeSpan.FromMilliseconds(12));
        kept.BeginAttempt();
        cluster.Fail(ejected, 5);

        cluster.Update(settings with { Policy = LoadBalancingPolicies.LeastRequest },
            [Endpoint(1) with { Health = "warning" }, Endpoint(2), Endpoint(4)]);

        Assert.Same(kept, cluster.ById("web-1"));
        Assert.Equal("warning", kept.Endpoint.Health);
        Assert.Equal(1, kept.Outstanding);
        Assert.Equal(12, kept.LatencyEwmaMs);
        Assert.True(cluster.ById("web-2").Ejected);
        Assert.DoesNotContain(cluster.Endpoints, e => e.Endpoint.Id == "web-3");
        Assert.Equal(0, cluster.ById("web-4").Outstanding);
        Assert.Equal(LoadBalancingPolicies.LeastRequest, cluster.Settings.Policy);
    }

    [Fact]
    public void Update_SameIdAtANewAddress_IsANewEndpoint()
    {
        var cluster = Create(LoadBalancingPolicies.RoundRobin, Endpoints(1), _time);
        var before = cluster.Endpoints[0];
        before.BeginAttempt();

        cluster.Update(cluster.Settings, [Endpoint(1) with { Port = 9090 }]);

        Assert.NotSame(before, cluster.Endpoints[0]);
        Assert.Equal(0, cluster.Endpoints[0].Outstanding);
    }

    [Fact]
    public void Update_SameEndpointsAndWeights_KeepsTheBuiltPolicy()
    {
        var cluster = Create(LoadBalancingPolicies.Maglev, Endpoints(3), _time);
        var policy = cluster.Policy;

        cluster.Update(cluster.Settings with { PanicThresholdPercent = 20 }, [.. Endpoints(3).Reverse().Select(e => e with { Health = "warning" })]);

        Assert.Same(policy, cluster.Policy);
        Assert.Equal(20, cluster.Settings.PanicThresholdPercent);
    }

    [Fact]
    public void Update_WeightChangedEndpointAddedOrPolicyChanged_RebuildsThePolicy()
    {
        var cluster = Create(LoadBalancingPolicies.RingHash, Endpoints(3), _time);

        var policy = cluster.Policy;
        cluster.Update(cluster.Settings, [Endpoint(1, weight: 2), Endpoint(2), Endpoint(3)]);
        Assert.NotSame(policy, cluster.Policy);

        policy = cluster.Policy;
        cluster.Update(cluster.Settings, [Endpoint(1, weight: 2), Endpoint(2), Endpoint(3), Endpoint(4)]);
        Assert.NotSame(policy, cluster.Policy);

        policy = cluster.Policy;
        cluster.Update(cluster.Settings with { Policy = LoadBalancingPolicies.Maglev }, [Endpoint(1, weight: 2), Endpoint(2), Endpoint(3), Endpoint(4)]);
        Assert.IsType<MaglevLoadBalancingPolicy>(cluster.Policy);
    }

    [Fact]
    public void Report_OnAnEndpointRemovedWhileInFlight_EndsItsAttemptWithoutEjectingAnything()
    {
        var cluster = Create(LoadBalancingPolicies.RoundRobin, Endpoints(2), _time);
        var gone = cluster.ById("web-1");
        gone.BeginAttempt();
        cluster.Update(cluster.Settings, [Endpoint(2)]);

        cluster.Fail(gone, 5);

        Assert.Equal(0, gone.Outstanding);
        Assert.False(gone.Ejected);
    }

    [Fact]
    public void Update_UnknownPolicyName_FallsBackToTheDefault()
    {
        var cluster = Create("least_connections_typo", Endpoints(2), _time);

        Assert.IsType<PeakEwmaLoadBalancingPolicy>(cluster.Policy);
        Assert.NotNull(cluster.Pick(null));
    }

    [Fact]
    public async Task PickAndReport_FromManyThreads_LeaveNothingOutstanding()
    {
        var cluster = new Cluster("web", ClusterSettings.Default, _time);
        cluster.Update(ClusterSettings.Default, Endpoints(5));

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                var endpoint = cluster.Pick(null)!;
                cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));
            }
        })));

        Assert.All(cluster.Endpoints, e => Assert.Equal(0, e.Outstanding));
        Assert.Equal(40_000, cluster.Endpoints.Sum(e => e.Attempts));
    }
}
