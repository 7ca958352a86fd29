using Microsoft.Extensions.Time.Testing;
using Weft.Core.Mesh;
using Weft.Proxy.LoadBalancing;

namespace Weft.Proxy.Tests.LoadBalancing;

internal static class TestClusters
{
    public static MeshEndpoint Endpoint(int i, int weight = 1) => new()
    {
        Id = $"web-{i}",
        Node = $"node-{i}",
        Address = $"10.0.0.{i}",
        Port = 8080,
        Weight = weight,
    };

    public static MeshEndpoint[] Endpoints(int count) => [.. Enumerable.Range(1, count).Select(i => Endpoint(i))];

    public static Cluster Create(ClusterSettings settings, FakeTimeProvider time, IReadOnlyList<MeshEndpoint> endpoints, int seed = 42)
    {
        var cluster = new Cluster("web", settings, time, new Random(seed));
        cluster.Update(settings, endpoints);
        return cluster;
    }

    public static Cluster Create(string policy, IReadOnlyList<MeshEndpoint> endpoints, FakeTimeProvider? time = null, int seed = 42) =>
        Create(new ClusterSettings { Policy = policy }, time ?? new FakeTimeProvider(), endpoints, seed);

    public static EndpointState ById(this Cluster cluster, string id) => cluster.Endpoints.Single(e => e.Endpoint.Id == id);

    /// <summary>Picks and at once reports success, <paramref name="count"/> times; picks per endpoint ID.</summary>
    public static Dictionary<string, int> PickMany(this Cluster cluster, int count, Func<EndpointState, double>? latencyMs = null)
    {
        var picks = new Dictionary<string, int>();
        for (var i = 0; i < count; i++)
        {
            var endpoint = cluster.Pick(null)!;
            picks[endpoint.Endpoint.Id] = picks.GetValueOrDefault(endpoint.Endpoint.Id) + 1;
            cluster.Report(endpoint, AttemptOutcome.Success, TimeSpan.FromMilliseconds(latencyMs?.Invoke(endpoint) ?? 1));
        }
        return picks;
    }

    public static void Fail(this Cluster cluster, EndpointState endpoint, int times)
    {
        for (var i = 0; i < times; i++)
            cluster.Report(endpoint, AttemptOutcome.ServerError, TimeSpan.FromMilliseconds(1));
    }

    /// <summary>
    /// One request a millisecond for <paramref name="requests"/> ms of fake time; each stays outstanding for its
    /// endpoint's latency, then is reported. Returns picks per endpoint ID.
    /// </summary>
    public static Dictionary<string, int> Simulate(this Cluster cluster, FakeTimeProvider time, int requests, Func<EndpointState, int> latencyMs)
    {
        var picks = new Dictionary<string, int>();
        var inFlight = new PriorityQueue<(EndpointState Endpoint, int Latency), long>();
        for (var t = 0L; t < requests; t++)
        {
            while (inFlight.TryPeek(out var done, out var at) && at <= t)
            {
                inFlight.Dequeue();
                cluster.Report(done.Endpoint, AttemptOutcome.Success, TimeSpan.FromMilliseconds(done.Latency));
            }
            var endpoint = cluster.Pick(null)!;
            picks[endpoint.Endpoint.Id] = picks.GetValueOrDefault(endpoint.Endpoint.Id) + 1;
            var latency = latencyMs(endpoint);
            inFlight.Enqueue((endpoint, latency), t + latency);
            time.Advance(TimeSpan.FromMilliseconds(1));
        }
        return picks;
    }
}
