using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.LoadBalancing;
using static Weft.Proxy.Tests.LoadBalancing.TestClusters;

namespace Weft.Proxy.Tests.LoadBalancing;

public sealed class OutlierDetectionTests
{
    private readonly FakeTimeProvider _time = new();

    private Cluster Cluster(int endpoints, OutlierSettings? outlier = null, int panicThresholdPercent = 50, string policy = LoadBalancingPolicies.RoundRobin) =>
        Create(new ClusterSettings
        {
            Policy = policy,
            Outlier = outlier ?? OutlierSettings.Default,
            PanicThresholdPercent = panicThresholdPercent,
        }, _time, Endpoints(endpoints));

    [Theory]
    [InlineData("ServerError")]
    [InlineData("ConnectFailure")]
    [InlineData("Reset")]
    [InlineData("Timeout")]
    public void Report_FiveConsecutiveFailures_EjectForTheBaseEjectionTime(string outcome)
    {
        var failure = Enum.Parse<AttemptOutcome>(outcome);
        var cluster = Cluster(10);
        var endpoint = cluster.ById("web-1");

        for (var i = 0; i < 4; i++)
            cluster.Report(endpoint, failure, TimeSpan.FromMilliseconds(1));
        Assert.False(endpoint.Ejected);
        cluster.Report(endpoint, failure, TimeSpan.FromMilliseconds(1));

        Assert.True(endpoint.Ejected);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(30), endpoint.EjectedUntil);
        Assert.Equal(5, endpoint.Failures);
    }

    [Fact]
    public void Report_SuccessBetweenFailures_ResetsTheCount()
    {
        var cluster = Cluster(10);
        var endpoint = cluster.ById("web-1");

        cluster.Fail(endpoint, 4);
        cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));
        cluster.Fail(endpoint, 4);

        Assert.False(endpoint.Ejected);
        cluster.Fail(endpoint, 1);
        Assert.True(endpoint.Ejected);
    }

    [Fact]
    public void Report_CancelledBetweenFailures_NeitherCountsNorResets()
    {
        var cluster = Cluster(10);
        var endpoint = cluster.ById("web-1");

        cluster.Fail(endpoint, 4);
        cluster.Report(endpoint, AttemptOutcome.Cancelled, TimeSpan.FromMilliseconds(1));
        Assert.False(endpoint.Ejected);
        cluster.Fail(endpoint, 1);

        Assert.True(endpoint.Ejected);
        Assert.Equal(5, endpoint.Attempts);
    }

    [Fact]
    public void Pick_EjectedEndpoint_GetsNoTraffic()
    {
        var cluster = Cluster(10);
        cluster.Fail(cluster.ById("web-1"), 5);

        var picks = cluster.PickMany(900);

        Assert.False(picks.ContainsKey("web-1"));
        Assert.All(picks.Values, count => Assert.Equal(100, count));
    }

    [Fact]
    public void Ejection_WhenItsTimeIsUp_EndsAndTheEndpointGetsTrafficAgain()
    {
        var cluster = Cluster(10);
        var endpoint = cluster.ById("web-1");
        cluster.Fail(endpoint, 5);

        _time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.True(endpoint.Ejected);
        _time.Advance(TimeSpan.FromTicks(1));

        Assert.False(endpoint.Ejected);
        Assert.Null(endpoint.EjectedUntil);
        Assert.Equal(100, cluster.PickMany(1000)["web-1"]);
    }

    [Fact]
    public void Ejection_SecondOneSoonAfterTheFirst_LastsTwiceAsLong()
    {
        var cluster = Cluster(10);
        var endpoint = cluster.ById("web-1");
        cluster.Fail(endpoint, 5);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(endpoint.Ejected);

        cluster.Fail(endpoint, 5);

        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(60), endpoint.EjectedUntil);
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(endpoint.Ejected);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(endpoint.Ejected);
    }

    [Fact]
    public void Ejection_AfterLongInService_ShrinksBackOneIntervalAtATime()
    {
        var cluster = Cluster(10);
        var endpoint = cluster.ById("web-1");
        cluster.Fail(endpoint, 5);
        _time.Advance(TimeSpan.FromSeconds(30));
        cluster.Fail(endpoint, 5);
        _time.Advance(TimeSpan.FromSeconds(60));

        // Two ejections so far; 10 s (one interval) in service takes one off before this one adds one.
        _time.Advance(TimeSpan.FromSeconds(10));
        cluster.Fail(endpoint, 5);

        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(60), endpoint.EjectedUntil);
    }

    [Fact]
    public void Ejection_RepeatedForever_NeverLastsLongerThanFiveMinutes()
    {
        var cluster = Cluster(10);
        var endpoint = cluster.ById("web-1");

        for (var i = 0; i < 20; i++)
        {
            cluster.Fail(endpoint, 5);
            _time.Advance(endpoint.EjectedUntil!.Value - _time.GetUtcNow());
        }
        cluster.Fail(endpoint, 5);

        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(300), endpoint.EjectedUntil);
    }

    [Fact]
    public void Ejection_BeyondMaxEjectionPercent_IsRefused()
    {
        var cluster = Cluster(20);

        for (var i = 1; i <= 3; i++)
            cluster.Fail(cluster.ById($"web-{i}"), 5);

        // 10% of 20 endpoints: two may be out, a third may not.
        Assert.True(cluster.ById("web-1").Ejected);
        Assert.True(cluster.ById("web-2").Ejected);
        Assert.False(cluster.ById("web-3").Ejected);
    }

    [Fact]
    public void Ejection_FirstOneInASmallCluster_IsAllowedWhateverThePercent()
    {
        var cluster = Cluster(5);

        cluster.Fail(cluster.ById("web-1"), 5);
        cluster.Fail(cluster.ById("web-2"), 5);

        // 1 of 5 is 20% > 10%, but Envoy always allows one ejection; the second is refused.
        Assert.True(cluster.ById("web-1").Ejected);
        Assert.False(cluster.ById("web-2").Ejected);
    }

    [Fact]
    public void Ejection_RefusedForMaxPercent_HappensAtTheNextRunOfFailuresOnceRoomIsMade()
    {
        var cluster = Cluster(5);
        cluster.Fail(cluster.ById("web-1"), 5);
        cluster.Fail(cluster.ById("web-2"), 5);
        _time.Advance(TimeSpan.FromSeconds(30));

        cluster.Fail(cluster.ById("web-2"), 5);

        Assert.True(cluster.ById("web-2").Ejected);
    }

    [Fact]
    public void Ejection_WithConsecutiveFailuresZero_NeverHappens()
    {
        var cluster = Cluster(10, new OutlierSettings { ConsecutiveFailures = 0 });

        cluster.Fail(cluster.ById("web-1"), 100);

        Assert.False(cluster.ById("web-1").Ejected);
    }

    [Fact]
    public void Ejection_WithEnforcingPercentZero_NeverHappens()
    {
        var cluster = Cluster(10, new OutlierSettings { EnforcingPercent = 0 });

        cluster.Fail(cluster.ById("web-1"), 100);

        Assert.False(cluster.ById("web-1").Ejected);
    }

    [Fact]
    public void Ejection_WithEnforcingPercentFifty_HappensForAboutHalfOfTheRuns()
    {
        var outlier = new OutlierSettings { EnforcingPercent = 50, MaxEjectionPercent = 100 };
        var cluster = Create(new ClusterSettings { Outlier = outlier, PanicThresholdPercent = 0 }, _time, Endpoints(1000), seed: 3);

        foreach (var endpoint in cluster.Endpoints)
            cluster.Fail(endpoint, 5);

        Assert.InRange(cluster.Endpoints.Count(e => e.Ejected), 430, 570);
    }

    [Fact]
    public void Pick_TooFewEndpointsLeft_PanicsAndUsesEjectedOnesToo()
    {
        var cluster = Cluster(4, new OutlierSettings { MaxEjectionPercent = 100 });
        cluster.Fail(cluster.ById("web-1"), 5);
        cluster.Fail(cluster.ById("web-2"), 5);
        Assert.False(cluster.PickMany(100).ContainsKey("web-1"));

        // 1 of 4 in service is 25%, below the 50% panic threshold.
        cluster.Fail(cluster.ById("web-3"), 5);
        var picks = cluster.PickMany(400);

        Assert.True(cluster.ById("web-3").Ejected);
        Assert.All(picks.Values, count => Assert.Equal(100, count));
        Assert.Equal(4, picks.Count);
    }

    [Fact]
    public void Pick_AllEndpointsEjectedWithPanicDisabled_StillPicksOne()
    {
        var cluster = Cluster(2, new OutlierSettings { MaxEjectionPercent = 100 }, panicThresholdPercent: 0);
        cluster.Fail(cluster.ById("web-1"), 5);
        Assert.Equal(100, cluster.PickMany(100)["web-2"]);

        cluster.Fail(cluster.ById("web-2"), 5);

        Assert.NotNull(cluster.Pick(null));
    }

    [Fact]
    public void Pick_RetryWithTriedEndpointsExcluded_AvoidsThem()
    {
        var cluster = Cluster(3, policy: LoadBalancingPolicies.PeakEwma);
        var tried = new List<EndpointState>();

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var endpoint = cluster.Pick(null, tried)!;
            Assert.DoesNotContain(endpoint, tried);
            tried.Add(endpoint);
            cluster.Report(endpoint, AttemptOutcome.ServerError, TimeSpan.FromMilliseconds(1));
        }

        // All three tried: the fourth attempt may reuse one rather than fail.
        Assert.NotNull(cluster.Pick(null, tried));
    }

    [Fact]
    public void Pick_RetryWhenTheOnlyOtherEndpointIsEjected_ReusesAnExcludedOneRatherThanTheEjectedOne()
    {
        var cluster = Cluster(3, new OutlierSettings { MaxEjectionPercent = 100 }, policy: LoadBalancingPolicies.Random);
        cluster.Fail(cluster.ById("web-3"), 5);
        EndpointState[] tried = [cluster.ById("web-1")];

        for (var i = 0; i < 100; i++)
        {
            var endpoint = cluster.Pick(null, tried)!;
            Assert.Equal("web-2", endpoint.Endpoint.Id);
            cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.Zero);
        }
        EndpointState[] bothTried = [cluster.ById("web-1"), cluster.ById("web-2")];
        for (var i = 0; i < 100; i++)
        {
            var endpoint = cluster.Pick(null, bothTried)!;
            Assert.NotEqual("web-3", endpoint.Endpoint.Id);
            cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.Zero);
        }
    }
}
