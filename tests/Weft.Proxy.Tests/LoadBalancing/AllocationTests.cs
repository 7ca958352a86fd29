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

        // A window may catch the runtime's own one-off work (a method's tier-up lands mid-window); code that allocates
        // per pick or report allocates in every window, so one clean window out of three is the proof.
        var allocated = new long[3];
        for (var window = 0; window < allocated.Length; window++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            Run(cluster, request, tried, 1000);
            allocated[window] = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated[window] == 0)
                return;
        }

        Assert.Fail($"2,000 picks and reports allocated in every window: {string.Join(", ", allocated)} bytes");
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
