using System.Collections.Immutable;

namespace Weft.Core.Catalog;

/// <summary>A machine (or, for agentless registrations, a logical host) in the catalog.</summary>
public sealed record NodeRecord
{
    public required string Name { get; init; }
    public string Id { get; init; } = "";
    public required string Address { get; init; }
    public string Datacenter { get; init; } = "dc1";
    public ImmutableSortedDictionary<string, string> TaggedAddresses { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
    public ImmutableSortedDictionary<string, string> Meta { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

/// <summary>How a load balancer should weigh an instance by its health.</summary>
public readonly record struct ServiceWeights(int Passing, int Warning)
{
    public static readonly ServiceWeights Default = new(1, 1);
}

/// <summary>One instance of a service on a node.</summary>
public sealed record ServiceRecord
{
    public required string Node { get; init; }
    public required string Id { get; init; }
    public required string Name { get; init; }
    public ImmutableArray<string> Tags { get; init; } = [];
    public string Address { get; init; } = "";
    public int Port { get; init; }
    public ImmutableSortedDictionary<string, string> Meta { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
    public ServiceWeights Weights { get; init; } = ServiceWeights.Default;
    public bool EnableTagOverride { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }

    public ServiceKey Key => new(Node, Id);

    /// <summary>True when the two records describe the same registration, ignoring indexes.</summary>
    public bool SameAs(ServiceRecord other) =>
        Node == other.Node && Id == other.Id && Name == other.Name && Address == other.Address && Port == other.Port
        && Weights == other.Weights && EnableTagOverride == other.EnableTagOverride
        && Tags.SequenceEqual(other.Tags) && Meta.SequenceEqual(other.Meta);
}

/// <summary>A health check, its definition (when the server runs it) and its last result.</summary>
public sealed record CheckRecord
{
    public required string Node { get; init; }
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string Status { get; init; } = HealthStatus.Critical;
    public string Notes { get; init; } = "";
    public string Output { get; init; } = "";
    public string ServiceId { get; init; } = "";
    public string ServiceName { get; init; } = "";
    public ImmutableArray<string> ServiceTags { get; init; } = [];

    /// <summary>What the server runs for this check; null for checks whose status is reported from outside.</summary>
    public CheckDefinition? Definition { get; init; }

    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }

    public CheckKey Key => new(Node, Id);
    public string Type => Definition?.Type ?? "";
    public bool IsNodeCheck => ServiceId.Length == 0;
}

/// <summary>The kinds of check the server can run, named as Consul names them in a check's <c>Type</c>.</summary>
public static class CheckTypes
{
    public const string Http = "http";
    public const string Tcp = "tcp";
    public const string Grpc = "grpc";
    public const string Ttl = "ttl";
    public const string Script = "script";
}

/// <summary>A check the server runs (or, for TTL, waits for). Immutable; times as <see cref="TimeSpan"/>.</summary>
public sealed record CheckDefinition
{
    public required string Type { get; init; }
    public TimeSpan Interval { get; init; }
    public TimeSpan Timeout { get; init; }
    public TimeSpan Ttl { get; init; }
    public string Http { get; init; } = "";
    public string Method { get; init; } = "";
    public ImmutableSortedDictionary<string, ImmutableArray<string>> Header { get; init; } = ImmutableSortedDictionary<string, ImmutableArray<string>>.Empty;
    public string Body { get; init; } = "";
    public bool TlsSkipVerify { get; init; }
    public string TlsServerName { get; init; } = "";
    public string Tcp { get; init; } = "";
    public string Grpc { get; init; } = "";
    public bool GrpcUseTls { get; init; }
    public ImmutableArray<string> Args { get; init; } = [];
    public int SuccessBeforePassing { get; init; }
    public int FailuresBeforeWarning { get; init; }
    public int FailuresBeforeCritical { get; init; }
    public TimeSpan DeregisterCriticalServiceAfter { get; init; }

    /// <summary>Consul's default probe timeout when none is given.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Consul raises any shorter interval to this one.</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);

    public TimeSpan EffectiveTimeout => Timeout > TimeSpan.Zero ? Timeout : DefaultTimeout;

    public bool Equivalent(CheckDefinition? other) =>
        other is not null
        && this with { Header = Header, Args = Args } == other with { Header = Header, Args = Args }
        && Args.SequenceEqual(other.Args)
        && Header.Count == other.Header.Count
        && Header.All(h => other.Header.TryGetValue(h.Key, out var v) && v.SequenceEqual(h.Value));
}
