using System.Collections.Immutable;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// Weighted round robin. The order is computed once per endpoint set with nginx's smooth weighted round robin
/// (weights 1:3 give A B B B's interleaving, B A B B, not A B B B in a lump), and picks walk it with one shared
/// cursor. An unavailable endpoint's turn passes to the next in the order.
/// </summary>
internal sealed class RoundRobinLoadBalancingPolicy : ILoadBalancingPolicy
{
    /// <summary>Weights are scaled down when the order would be longer than this, or cost more to compute.</summary>
    private const int MaxScheduleWork = 1 << 22;

    private readonly ImmutableArray<EndpointState> _endpoints;
    private readonly int[] _schedule;
    private int _cursor;

    /// <param name="start">Where in the order to start, so that sidecars do not all begin with the same endpoint.</param>
    public RoundRobinLoadBalancingPolicy(ImmutableArray<EndpointState> endpoints, int start)
    {
        _endpoints = endpoints;
        _schedule = BuildSchedule(endpoints);
        _cursor = _schedule.Length == 0 ? 0 : (int)((uint)start % (uint)_schedule.Length) - 1;
    }

    public EndpointState? Pick(in PickContext context)
    {
        var length = (uint)_schedule.Length;
        for (var i = 0u; i < length; i++)
        {
            var turn = (uint)Interlocked.Increment(ref _cursor) % length;
            var endpoint = _endpoints[_schedule[turn]];
            if (context.IsAvailable(endpoint))
                return endpoint;
        }
        return null;
    }

    private static int[] BuildSchedule(ImmutableArray<EndpointState> endpoints)
    {
        var count = endpoints.Length;
        if (count == 0)
            return [];

        var weights = new long[count];
        var divisor = 0L;
        for (var i = 0; i < count; i++)
        {
            weights[i] = endpoints[i].Weight;
            divisor = Gcd(divisor, weights[i]);
        }
        var total = 0L;
        for (var i = 0; i < count; i++)
            total += weights[i] /= divisor;

        var budget = Math.Max(count, MaxScheduleWork / count);
        if (total > budget)
        {
            var scaled = 0L;
            for (var i = 0; i < count; i++)
                scaled += weights[i] = Math.Max(1, weights[i] * budget / total);
            total = scaled;
        }

        var schedule = new int[total];
        var current = new long[count];
        for (var turn = 0; turn < total; turn++)
        {
            var best = 0;
            for (var i = 0; i < count; i++)
            {
                current[i] += weights[i];
                if (current[i] > current[best])
                    best = i;
            }
            current[best] -= total;
            schedule[turn] = best;
        }
        return schedule;
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }
}
