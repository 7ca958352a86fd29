using System.Collections.Immutable;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.LoadBalancing;
using static Weft.Proxy.Tests.LoadBalancing.TestClusters;

namespace Weft.Proxy.Tests.LoadBalancing;

/// <summary>ring_hash and maglev share their hashing and their promises, so every test runs on both.</summary>
public sealed class HashLoadBalancingPolicyTests
{
    public static TheoryData<string> Policies => [LoadBalancingPolicies.RingHash, LoadBalancingPolicies.Maglev];

    private static readonly HashPolicy ByUserHeader = new() { Field = RequestHash.Header, FieldValue = "x-user" };

    private static Cluster HashCluster(string policy, IReadOnlyList<MeshEndpoint> endpoints, params HashPolicy[] hashPolicies) =>
        Create(new ClusterSettings { Policy = policy, HashPolicies = [.. hashPolicies] }, new FakeTimeProvider(), endpoints);

    private static HttpContext Request(string? user = null, string? tenant = null, string? cookie = null, string? query = null, string? ip = null)
    {
        var context = new DefaultHttpContext();
        if (user is not null)
            context.Request.Headers["x-user"] = user;
        if (tenant is not null)
            context.Request.Headers["x-tenant"] = tenant;
        if (cookie is not null)
            context.Request.Headers.Cookie = $"session={cookie}";
        if (query is not null)
            context.Request.QueryString = new QueryString($"?user={query}");
        if (ip is not null)
            context.Connection.RemoteIpAddress = IPAddress.Parse(ip);
        return context;
    }

    private static string PickId(Cluster cluster, HttpContext request)
    {
        var endpoint = cluster.Pick(request)!;
        cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));
        return endpoint.Endpoint.Id;
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_SameHeaderValue_AlwaysGoesToTheSameEndpoint(string policy)
    {
        var cluster = HashCluster(policy, Endpoints(5), ByUserHeader);

        for (var user = 0; user < 200; user++)
        {
            var first = PickId(cluster, Request(user: $"user-{user}"));
            for (var again = 0; again < 3; again++)
                Assert.Equal(first, PickId(cluster, Request(user: $"user-{user}")));
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_DifferentValues_SpreadOverAllEndpoints(string policy)
    {
        var cluster = HashCluster(policy, Endpoints(5), ByUserHeader);

        var counts = Enumerable.Range(0, 5000).GroupBy(u => PickId(cluster, Request(user: $"user-{u}"))).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(5, counts.Count);
        Assert.All(counts.Values, count => Assert.InRange(count, 700, 1_300));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_AnotherSidecarWithEndpointsInAnotherOrder_MapsEveryKeyTheSame(string policy)
    {
        var one = HashCluster(policy, Endpoints(5), ByUserHeader);
        var other = HashCluster(policy, [.. Endpoints(5).Reverse()], ByUserHeader);

        for (var user = 0; user < 500; user++)
            Assert.Equal(PickId(one, Request(user: $"user-{user}")), PickId(other, Request(user: $"user-{user}")));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_SameCookieQueryParameterOrSourceIp_AlwaysGoesToTheSameEndpoint(string policy)
    {
        var byCookie = HashCluster(policy, Endpoints(5), new HashPolicy { Field = RequestHash.Cookie, FieldValue = "session" });
        var byQuery = HashCluster(policy, Endpoints(5), new HashPolicy { Field = RequestHash.QueryParameter, FieldValue = "user" });
        var byIp = HashCluster(policy, Endpoints(5), new HashPolicy { SourceIP = true });

        var cookieTargets = new HashSet<string>();
        var queryTargets = new HashSet<string>();
        var ipTargets = new HashSet<string>();
        for (var i = 0; i < 100; i++)
        {
            var cookie = PickId(byCookie, Request(cookie: $"c{i}"));
            Assert.Equal(cookie, PickId(byCookie, Request(cookie: $"c{i}", user: "someone-else")));
            cookieTargets.Add(cookie);

            var query = PickId(byQuery, Request(query: $"q{i}"));
            Assert.Equal(query, PickId(byQuery, Request(query: $"q{i}")));
            queryTargets.Add(query);

            var ip = PickId(byIp, Request(ip: $"192.168.1.{i}"));
            Assert.Equal(ip, PickId(byIp, Request(ip: $"192.168.1.{i}")));
            Assert.Equal(ip, PickId(byIp, Request(ip: $"::ffff:192.168.1.{i}")));
            ipTargets.Add(ip);
        }
        Assert.True(cookieTargets.Count > 1 && queryTargets.Count > 1 && ipTargets.Count > 1, "distinct values use more than one endpoint");
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_OneOfFiveEndpointsRemoved_RemapsOnlyAboutAFifthOfKeys(string policy)
    {
        var cluster = HashCluster(policy, Endpoints(5), ByUserHeader);
        const int Keys = 2000;
        var before = Enumerable.Range(0, Keys).Select(u => PickId(cluster, Request(user: $"user-{u}"))).ToArray();

        cluster.Update(cluster.Settings, [.. Endpoints(5).Where(e => e.Id != "web-3")]);
        var after = Enumerable.Range(0, Keys).Select(u => PickId(cluster, Request(user: $"user-{u}"))).ToArray();

        var moved = Enumerable.Range(0, Keys).Count(i => before[i] != after[i]);
        Assert.InRange(moved, 1, (int)(Keys * 0.35));
        // Keys that were not on the removed endpoint mostly stay put.
        var movedFromSurvivors = Enumerable.Range(0, Keys).Count(i => before[i] != "web-3" && before[i] != after[i]);
        Assert.True(movedFromSurvivors < Keys * 0.1, $"{movedFromSurvivors} keys of surviving endpoints moved");
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_HeavierEndpoint_GetsProportionallyMoreKeys(string policy)
    {
        var cluster = HashCluster(policy, [Endpoint(1, weight: 1), Endpoint(2, weight: 3)], ByUserHeader);

        var heavy = Enumerable.Range(0, 4000).Count(u => PickId(cluster, Request(user: $"user-{u}")) == "web-2");

        Assert.InRange(heavy, 2_600, 3_400);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_TerminalPolicyWithAValue_IgnoresThePoliciesAfterIt(string policy)
    {
        var terminal = HashCluster(policy, Endpoints(5),
            new HashPolicy { Field = RequestHash.Header, FieldValue = "x-tenant", Terminal = true }, ByUserHeader);
        var notTerminal = HashCluster(policy, Endpoints(5),
            new HashPolicy { Field = RequestHash.Header, FieldValue = "x-tenant" }, ByUserHeader);

        var terminalTargets = Enumerable.Range(0, 50).Select(u => PickId(terminal, Request(tenant: "acme", user: $"user-{u}"))).Distinct().Count();
        var combinedTargets = Enumerable.Range(0, 50).Select(u => PickId(notTerminal, Request(tenant: "acme", user: $"user-{u}"))).Distinct().Count();

        Assert.Equal(1, terminalTargets);
        Assert.True(combinedTargets > 1, "without Terminal the user header still mixes in");
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_TerminalPolicyWithoutAValue_FallsThroughToTheNextPolicy(string policy)
    {
        var cluster = HashCluster(policy, Endpoints(5),
            new HashPolicy { Field = RequestHash.Header, FieldValue = "x-tenant", Terminal = true }, ByUserHeader);
        var byUserOnly = HashCluster(policy, Endpoints(5), ByUserHeader);

        for (var u = 0; u < 100; u++)
            Assert.Equal(PickId(byUserOnly, Request(user: $"user-{u}")), PickId(cluster, Request(user: $"user-{u}")));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_NoHashValue_PicksAtRandom(string policy)
    {
        var cluster = HashCluster(policy, Endpoints(5), ByUserHeader);

        var targets = Enumerable.Range(0, 200).Select(_ => PickId(cluster, Request())).Distinct().Count();

        Assert.Equal(5, targets);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_KeyOnAnEjectedEndpoint_MovesWhileOtherKeysStay(string policy)
    {
        var settings = new ClusterSettings
        {
            Policy = policy,
            HashPolicies = [ByUserHeader],
            Outlier = new OutlierSettings { MaxEjectionPercent = 100 },
        };
        var cluster = Create(settings, new FakeTimeProvider(), Endpoints(5));
        var before = Enumerable.Range(0, 500).Select(u => PickId(cluster, Request(user: $"user-{u}"))).ToArray();

        cluster.Fail(cluster.ById("web-2"), 5);
        var after = Enumerable.Range(0, 500).Select(u => PickId(cluster, Request(user: $"user-{u}"))).ToArray();

        Assert.DoesNotContain("web-2", after);
        Assert.All(Enumerable.Range(0, 500).Where(i => before[i] != "web-2"), i => Assert.Equal(before[i], after[i]));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_RetryOfAHashedRequest_GoesToAnotherEndpointAndAlwaysTheSameOne(string policy)
    {
        var cluster = HashCluster(policy, Endpoints(5), ByUserHeader);

        for (var u = 0; u < 100; u++)
        {
            var first = cluster.Pick(Request(user: $"user-{u}"))!;
            cluster.Report(first, AttemptOutcome.ServerError, TimeSpan.FromMilliseconds(1));
            var retry = PickId(cluster, Request(user: $"user-{u}"));
            EndpointState[] tried = [first];

            var retries = Enumerable.Range(0, 3).Select(_ =>
            {
                var endpoint = cluster.Pick(Request(user: $"user-{u}"), tried)!;
                cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));
                return endpoint;
            }).ToArray();

            Assert.Equal(first.Endpoint.Id, retry);
            Assert.All(retries, r => Assert.NotSame(first, r));
            Assert.All(retries, r => Assert.Same(retries[0], r));
        }
    }

    [Fact]
    public void Pick_CookieMissingWithTtlConfigured_SetsAStickyCookieOnTheResponse()
    {
        var policy = new HashPolicy
        {
            Field = RequestHash.Cookie,
            FieldValue = "route",
            CookieConfig = new CookieConfig { TTL = TimeSpan.FromMinutes(5), Path = "/" },
        };
        var cluster = HashCluster(LoadBalancingPolicies.RingHash, Endpoints(5), policy);
        var request = Request(ip: "192.168.1.10");

        var first = PickId(cluster, request);
        var retry = PickId(cluster, request);

        var setCookie = Assert.Single(request.Response.Headers.SetCookie);
        Assert.StartsWith("route=", setCookie);
        Assert.Contains("max-age=300", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(first, retry);
        var value = setCookie!.Split(';')[0]["route=".Length..];
        Assert.Equal(first, PickId(cluster, Request(cookie: null, ip: "10.9.9.9").WithCookie("route", value)));
    }
}

internal static class HttpContextExtensions
{
    public static HttpContext WithCookie(this HttpContext context, string name, string value)
    {
        context.Request.Headers.Cookie = $"{name}={value}";
        return context;
    }
}
