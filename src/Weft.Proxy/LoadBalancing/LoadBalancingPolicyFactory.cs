using System.Collections.Immutable;

namespace Weft.Proxy.LoadBalancing;

/// <summary>The one place where policy names become policies.</summary>
internal static class LoadBalancingPolicyFactory
{
    /// <summary>
    /// Builds the policy named by <see cref="ClusterSettings.Policy"/> over <paramref name="endpoints"/>. An
    /// unknown name gets the default (peak EWMA): a sidecar keeps serving on a config it does not fully know.
    /// </summary>
    public static ILoadBalancingPolicy Create(ClusterSettings settings, ImmutableArray<EndpointState> endpoints, Random random) =>
        settings.Policy switch
        {
            LoadBalancingPolicies.RoundRobin => new RoundRobinLoadBalancingPolicy(endpoints, random.Next()),
            LoadBalancingPolicies.Random => new RandomLoadBalancingPolicy(endpoints),
            LoadBalancingPolicies.LeastRequest => new LeastRequestLoadBalancingPolicy(endpoints, settings.ChoiceCount),
            LoadBalancingPolicies.RingHash => new RingHashLoadBalancingPolicy(endpoints, settings),
            LoadBalancingPolicies.Maglev => new MaglevLoadBalancingPolicy(endpoints, settings),
            _ => new PeakEwmaLoadBalancingPolicy(endpoints),
        };

    /// <summary>Whether a policy built for <paramref name="before"/> still serves <paramref name="after"/>.</summary>
    public static bool SamePolicy(ClusterSettings before, ClusterSettings after) =>
        before.Policy == after.Policy
        && before.ChoiceCount == after.ChoiceCount
        && before.MinimumRingSize == after.MinimumRingSize
        && before.MaximumRingSize == after.MaximumRingSize
        && before.HashPolicies.AsSpan().SequenceEqual(after.HashPolicies.AsSpan());
}
