using System.Collections.Immutable;

namespace Weft.Core.Catalog;

/// <summary>How many of a service's instances are passing, warning and critical (maintenance counts as critical).</summary>
public readonly record struct HealthCounts(int Passing, int Warning, int Critical)
{
    public int Instances => Passing + Warning + Critical;

    internal HealthCounts Add(string health, int delta) => health switch
    {
        HealthStatus.Critical or HealthStatus.Maintenance => this with { Critical = Critical + delta },
        HealthStatus.Warning => this with { Warning = Warning + delta },
        _ => this with { Passing = Passing + delta },
    };
}

public sealed partial record CatalogState
{
    /// <summary>
    /// Health counts per service name, kept by every change rather than walked per read: the stats list asks them of
    /// every service on every dashboard refresh, which at 5,000 instances was a walk of 15,000 records per request.
    /// </summary>
    public ImmutableDictionary<string, HealthCounts> HealthCountsByName { get; init; } = ImmutableDictionary<string, HealthCounts>.Empty;

    /// <summary>The health counts of a service's instances; all zero for a service not in the catalog.</summary>
    public HealthCounts HealthCountsOf(string serviceName) => HealthCountsByName.GetValueOrDefault(serviceName);

    /// <summary>One instance's health: the worst of its node's checks and its own, passing with none.</summary>
    public string HealthOf(ServiceRecord service)
    {
        var health = HealthStatus.Passing;
        foreach (var check in ChecksFor(service))
            health = HealthStatus.Worst(health, check.Status);
        return health;
    }

    /// <summary>
    /// Applies one change and keeps <see cref="HealthCountsByName"/> true: the instances the change can bear on are
    /// taken out of the counts as they were before it and put back as they are after it.
    /// </summary>
    public CatalogState Apply(CatalogChange change, ulong index)
    {
        var touched = InstancesTouchedBy(change);
        if (touched.Count == 0) return ApplyOne(change, index);
        var counts = Recount(HealthCountsByName, this, touched, -1);
        var next = ApplyOne(change, index);
        return next with { HealthCountsByName = Recount(counts, next, touched, +1) };
    }

    private List<ServiceKey> InstancesTouchedBy(CatalogChange change)
    {
        var keys = new List<ServiceKey>();
        switch (change)
        {
            case CatalogChange.ServiceUpsert c:
                keys.Add(c.Service.Key);
                break;
            case CatalogChange.ServiceDelete c:
                keys.Add(c.Key);
                break;
            case CatalogChange.CheckUpsert c:
                if (Checks.TryGetValue(c.Check.Key, out var replaced) && (replaced.IsNodeCheck != c.Check.IsNodeCheck || replaced.ServiceId != c.Check.ServiceId))
                    AddOwners(replaced, keys);
                AddOwners(c.Check, keys);
                break;
            case CatalogChange.CheckDelete c when Checks.TryGetValue(c.Key, out var removed):
                AddOwners(removed, keys);
                break;
        }

        return keys;
    }

    // A node's check bears on every instance on that node; a service's check on that instance only.
    private void AddOwners(CheckRecord check, List<ServiceKey> keys)
    {
        if (!check.IsNodeCheck)
            keys.Add(new ServiceKey(check.Node, check.ServiceId));
        else if (ServicesByNode.TryGetValue(check.Node, out var onNode))
            keys.AddRange(onNode);
    }

    private static ImmutableDictionary<string, HealthCounts> Recount(
        ImmutableDictionary<string, HealthCounts> counts, CatalogState state, List<ServiceKey> keys, int delta)
    {
        var builder = counts.ToBuilder();
        foreach (var key in keys.Distinct())
        {
            if (!state.Services.TryGetValue(key, out var service)) continue;
            var next = builder.GetValueOrDefault(service.Name).Add(state.HealthOf(service), delta);
            if (next.Instances == 0) builder.Remove(service.Name);
            else builder[service.Name] = next;
        }

        return builder.ToImmutable();
    }
}
