using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Weft.Core.Config;
using Weft.Proxy.LoadBalancing;
using static Weft.Proxy.Tests.LoadBalancing.TestClusters;

namespace Weft.Proxy.Tests.LoadBalancing;

/// <summary>Pick and Report run on every request: on the common path they allocate nothing.</summary>
public sealed class AllocationTests
{
    public static TheoryData<string> AllPolicies =>
    [
        LoadBalancingPolicies.PeakEwma, LoadBalancingPolicies.RoundRobin, LoadBalancingPolicies.Random,
        LoadBalancingPolicies.LeastRequest, LoadBalancingPolicies.RingHash, LoadBalancingPolicies.Maglev,
    ];

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void PickAndReport_WarmedUp_AllocateNothing(string policy)
    {
        var settings = new ClusterSettings
        {
            Policy = policy,
            HashPolicies = [new HashPolicy { Field = RequestHash.Header, FieldValue = "x-user" }],
        };
        var endpoints = Endpoints(5);
        endpoints[1] = endpoints[1] with { Weight = 3 };
        var cluster = Create(settings, new FakeTimeProvider(), endpoints);
        var request = new DefaultHttpContext();
        request.Request.Headers["x-user"] = "alice";
        var tried = new List<EndpointState>(4);
        Run(cluster, request, tried, 100);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(cluster, request, tried, 1000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    private static void Run(Cluster cluster, HttpContext request, List<EndpointState> tried, int times)
    {
        for (var i = 0; i < times; i++)
        {
            tried.Clear();
            var first = cluster.Pick(request)!;
            tried.Add(first);
            cluster.Report(first, AttemptOutcome.ServerError, TimeSpan.FromMilliseconds(2));
            var retry = cluster.Pick(request, tried)!;
            cluster.Report(retry, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));
        }
    }
}
