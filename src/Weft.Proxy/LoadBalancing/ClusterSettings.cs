using System.Collections.Immutable;
using Weft.Core.Config;

namespace Weft.Proxy.LoadBalancing;

/// <summary>Load-balancing policy names, as in <c>service-resolver</c> <c>LoadBalancer.Policy</c>.</summary>
internal static class LoadBalancingPolicies
{
    /// <summary>Weft's default: power of two choices over peak-EWMA latency × outstanding requests (Linkerd's).</summary>
    public const string PeakEwma = "";

    public const string RoundRobin = "round_robin";
    public const string Random = "random";
    public const string LeastRequest = "least_request";
    public const string RingHash = "ring_hash";
    public const string Maglev = "maglev";
}

/// <summary>How one upstream cluster picks endpoints and when it ejects them. Compiled from config entries.</summary>
internal sealed record ClusterSettings
{
    public static readonly ClusterSettings Default = new();

    public string Policy { get; init; } = LoadBalancingPolicies.PeakEwma;

    /// <summary>least_request: how many random endpoints to compare (Consul's <c>ChoiceCount</c>, default 2).</summary>
    public int ChoiceCount { get; init; } = 2;

    public int MinimumRingSize { get; init; } = 1024;
    public int MaximumRingSize { get; init; } = 8 * 1024 * 1024;
    public ImmutableArray<HashPolicy> HashPolicies { get; init; } = [];

    public OutlierSettings Outlier { get; init; } = OutlierSettings.Default;

    /// <summary>Below this percentage of available endpoints, ignore ejections and health (Envoy's panic mode).</summary>
    public int PanicThresholdPercent { get; init; } = 50;
}

/// <summary>Passive health checking, Envoy's consecutive-5xx outlier detection with Envoy's defaults.</summary>
internal sealed record OutlierSettings
{
    public static readonly OutlierSettings Default = new();

    /// <summary>Consecutive failed attempts (5xx, connect failure, reset, timeout) that eject an endpoint; 0 disables.</summary>
    public int ConsecutiveFailures { get; init; } = 5;

    /// <summary>Percent chance that reaching <see cref="ConsecutiveFailures"/> ejects (Envoy's enforcing_consecutive_5xx).</summary>
    public int EnforcingPercent { get; init; } = 100;

    /// <summary>How often ejections are reconsidered.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Ejection lasts this times the number of times the endpoint has been ejected.</summary>
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);

    public int MaxEjectionPercent { get; init; } = 10;
}

/// <summary>How an attempt on an endpoint ended, as passive health checking and latency tracking see it.</summary>
internal enum AttemptOutcome
{
    /// <summary>A response below 500 (a 4xx is the caller's problem, not the endpoint's).</summary>
    Success,

    /// <summary>A 5xx response from the endpoint.</summary>
    ServerError,

    /// <summary>Could not connect within the connect timeout.</summary>
    ConnectFailure,

    /// <summary>The connection was reset or closed mid-exchange.</summary>
    Reset,

    /// <summary>No response within the attempt's timeout.</summary>
    Timeout,

    /// <summary>The caller went away; says nothing about the endpoint.</summary>
    Cancelled,
}
