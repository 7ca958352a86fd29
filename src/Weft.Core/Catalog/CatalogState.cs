using System.Collections.Immutable;
using Weft.Core.Config;

namespace Weft.Core.Catalog;

/// <summary>
/// An immutable, versioned view of the whole catalog. Readers take the current instance and never lock;
/// a commit builds the next one by structural sharing and swaps it in.
/// </summary>
public sealed partial record CatalogState
{
    public static readonly CatalogState Empty = new();

    /// <summary>The index of the last commit reflected here (0 only before the first commit).</summary>
    public ulong Index { get; init; }

    public ImmutableSortedDictionary<string, NodeRecord> Nodes { get; init; } = ImmutableSortedDictionary.Create<string, NodeRecord>(StringComparer.Ordinal);
    public ImmutableDictionary<ServiceKey, ServiceRecord> Services { get; init; } = ImmutableDictionary<ServiceKey, ServiceRecord>.Empty;
    public ImmutableDictionary<CheckKey, CheckRecord> Checks { get; init; } = ImmutableDictionary<CheckKey, CheckRecord>.Empty;
    public ImmutableSortedDictionary<string, ImmutableSortedSet<ServiceKey>> ServicesByName { get; init; } = ImmutableSortedDictionary.Create<string, ImmutableSortedSet<ServiceKey>>(StringComparer.Ordinal);
    public ImmutableDictionary<string, ImmutableSortedSet<ServiceKey>> ServicesByNode { get; init; } = ImmutableDictionary<string, ImmutableSortedSet<ServiceKey>>.Empty;
    public ImmutableDictionary<string, ImmutableSortedSet<CheckKey>> ChecksByNode { get; init; } = ImmutableDictionary<string, ImmutableSortedSet<CheckKey>>.Empty;

    // By owner, so one instance's checks are found without scanning its node: an agent's node can hold
    // thousands of services.
    public ImmutableDictionary<ServiceKey, ImmutableSortedSet<CheckKey>> ChecksByService { get; init; } = ImmutableDictionary<ServiceKey, ImmutableSortedSet<CheckKey>>.Empty;
    public ImmutableDictionary<string, ImmutableSortedSet<CheckKey>> NodeChecksByNode { get; init; } = ImmutableDictionary<string, ImmutableSortedSet<CheckKey>>.Empty;
    // Per service name, how many instances carry each tag: the name list's tags without a scan of instances.
    public ImmutableDictionary<string, ImmutableSortedDictionary<string, int>> TagCounts { get; init; } = ImmutableDictionary<string, ImmutableSortedDictionary<string, int>>.Empty;

    /// <summary>Config entries by (Kind, Name), sorted so a kind's entries list in name order.</summary>
    public ImmutableSortedDictionary<(string Kind, string Name), ConfigEntry> ConfigEntries { get; init; } =
        ImmutableSortedDictionary.Create<(string Kind, string Name), ConfigEntry>(ConfigEntryKeyComparer.Instance);

    /// <summary>The certificate authority's roots by ID: the active one and those still trusted after a rotation.</summary>
    public ImmutableSortedDictionary<string, CaRootRecord> CaRoots { get; init; } = ImmutableSortedDictionary.Create<string, CaRootRecord>(StringComparer.Ordinal);

    public ImmutableDictionary<string, ulong> TopicIndexes { get; init; } = ImmutableDictionary<string, ulong>.Empty;

    /// <summary>The index a blocking query on <paramref name="topic"/> reports: never 0, as Consul's.</summary>
    public ulong TopicIndex(string topic) => Math.Max(1, TopicIndexes.GetValueOrDefault(topic));

    public IEnumerable<ServiceRecord> InstancesOf(string serviceName) =>
        ServicesByName.TryGetValue(serviceName, out var keys) ? keys.Select(k => Services[k]) : [];

    public IEnumerable<ServiceRecord> ServicesOn(string node) =>
        ServicesByNode.TryGetValue(node, out var keys) ? keys.Select(k => Services[k]) : [];

    public IEnumerable<CheckRecord> ChecksOn(string node) =>
        ChecksByNode.TryGetValue(node, out var keys) ? keys.Select(k => Checks[k]) : [];

    /// <summary>The checks registered for one instance.</summary>
    public IEnumerable<CheckRecord> ChecksOf(ServiceKey service) =>
        ChecksByService.TryGetValue(service, out var keys) ? keys.Select(k => Checks[k]) : [];

    /// <summary>A node's own checks (those of no service).</summary>
    public IEnumerable<CheckRecord> NodeChecksOn(string node) =>
        NodeChecksByNode.TryGetValue(node, out var keys) ? keys.Select(k => Checks[k]) : [];

    /// <summary>Checks that bear on one instance's health: its node's checks, then its own.</summary>
    public IEnumerable<CheckRecord> ChecksFor(ServiceRecord service) =>
        NodeChecksOn(service.Node).Concat(ChecksOf(service.Key));

    /// <summary>The union of a service's instances' tags, sorted, as <c>/v1/catalog/services</c> lists them.</summary>
    public ImmutableSortedSet<string> TagsOf(string serviceName) =>
        TagCounts.TryGetValue(serviceName, out var counts) ? [.. counts.Keys] : ImmutableSortedSet<string>.Empty;

    /// <summary>The root that signs new leaves; null before the certificate authority first starts.</summary>
    public CaRootRecord? ActiveCaRoot => CaRoots.Values.FirstOrDefault(r => r.Active);

    public ConfigEntry? ConfigEntry(string kind, string name) => ConfigEntries.GetValueOrDefault((kind, name));

    /// <summary>The entries of one kind, in name order.</summary>
    public IEnumerable<ConfigEntry> ConfigEntriesOf(string kind) =>
        ConfigEntries.SkipWhile(e => string.CompareOrdinal(e.Key.Kind, kind) < 0).TakeWhile(e => e.Key.Kind == kind).Select(e => e.Value);

    /// <summary>Applies a commit's changes at <paramref name="index"/>, keeping each record's CreateIndex.</summary>
    public CatalogState Apply(IEnumerable<CatalogChange> changes, ulong index)
    {
        var state = this;
        foreach (var change in changes)
            state = state.Apply(change, index);
        return state with { Index = index };
    }

    private CatalogState ApplyOne(CatalogChange change, ulong index) => change switch
    {
        CatalogChange.NodeUpsert c => PutNode(c.Node, index),
        CatalogChange.NodeDelete c => this with { Nodes = Nodes.Remove(c.Name) },
        CatalogChange.ServiceUpsert c => PutService(c.Service, index),
        CatalogChange.ServiceDelete c => RemoveService(c.Key),
        CatalogChange.CheckUpsert c => PutCheck(c.Check, index),
        CatalogChange.CheckDelete c => RemoveCheck(c.Key),
        CatalogChange.ConfigEntryUpsert c => PutConfigEntry(c.Entry, index),
        CatalogChange.ConfigEntryDelete c => this with { ConfigEntries = ConfigEntries.Remove((c.Kind, c.Name)) },
        CatalogChange.CaRootUpsert c => this with
        {
            CaRoots = CaRoots.SetItem(c.Root.Id, c.Root with { CreateIndex = CaRoots.TryGetValue(c.Root.Id, out var old) ? old.CreateIndex : index, ModifyIndex = index }),
        },
        CatalogChange.CaRootDelete c => this with { CaRoots = CaRoots.Remove(c.Id) },
        CatalogChange.TopicTouch c => this with { TopicIndexes = TopicIndexes.SetItem(c.Topic, index) },
        _ => throw new ArgumentOutOfRangeException(nameof(change)),
    };

    private CatalogState PutNode(NodeRecord node, ulong index)
    {
        var create = Nodes.TryGetValue(node.Name, out var old) ? old.CreateIndex : index;
        return this with { Nodes = Nodes.SetItem(node.Name, node with { CreateIndex = create, ModifyIndex = index }) };
    }

    private CatalogState PutConfigEntry(ConfigEntry entry, ulong index)
    {
        var key = (entry.Kind, entry.Name);
        var create = ConfigEntries.TryGetValue(key, out var old) ? old.CreateIndex : index;
        return this with { ConfigEntries = ConfigEntries.SetItem(key, entry with { CreateIndex = create, ModifyIndex = index }) };
    }

    private CatalogState PutService(ServiceRecord service, ulong index)
    {
        var key = service.Key;
        var old = Services.GetValueOrDefault(key);
        var state = old is null ? this : RemoveService(key);
        return state with
        {
            Services = state.Services.SetItem(key, service with { CreateIndex = old?.CreateIndex ?? index, ModifyIndex = index }),
            ServicesByName = AddToIndex(state.ServicesByName, service.Name, key),
            ServicesByNode = AddToIndex(state.ServicesByNode, service.Node, key),
            TagCounts = CountTags(state.TagCounts, service, +1),
        };
    }

    private CatalogState RemoveService(ServiceKey key)
    {
        if (!Services.TryGetValue(key, out var old)) return this;
        return this with
        {
            Services = Services.Remove(key),
            ServicesByName = RemoveFromIndex(ServicesByName, old.Name, key),
            ServicesByNode = RemoveFromIndex(ServicesByNode, old.Node, key),
            TagCounts = CountTags(TagCounts, old, -1),
        };
    }

    private static ImmutableDictionary<string, ImmutableSortedDictionary<string, int>> CountTags(
        ImmutableDictionary<string, ImmutableSortedDictionary<string, int>> counts, ServiceRecord service, int delta)
    {
        var tags = counts.TryGetValue(service.Name, out var existing) ? existing : ImmutableSortedDictionary.Create<string, int>(StringComparer.Ordinal);
        foreach (var tag in service.Tags.Distinct())
        {
            var n = tags.GetValueOrDefault(tag) + delta;
            tags = n > 0 ? tags.SetItem(tag, n) : tags.Remove(tag);
        }

        return delta < 0 && tags.IsEmpty ? counts.Remove(service.Name) : counts.SetItem(service.Name, tags);
    }

    private CatalogState PutCheck(CheckRecord check, ulong index)
    {
        var state = Checks.TryGetValue(check.Key, out var old) ? RemoveCheck(check.Key) : this;
        var record = check with { CreateIndex = old?.CreateIndex ?? index, ModifyIndex = index };
        return state with
        {
            Checks = state.Checks.SetItem(check.Key, record),
            ChecksByNode = AddToIndex(state.ChecksByNode, check.Node, check.Key),
            ChecksByService = check.IsNodeCheck ? state.ChecksByService : AddToIndex(state.ChecksByService, new ServiceKey(check.Node, check.ServiceId), check.Key),
            NodeChecksByNode = check.IsNodeCheck ? AddToIndex(state.NodeChecksByNode, check.Node, check.Key) : state.NodeChecksByNode,
        };
    }

    private CatalogState RemoveCheck(CheckKey key)
    {
        if (!Checks.TryGetValue(key, out var old)) return this;
        return this with
        {
            Checks = Checks.Remove(key),
            ChecksByNode = RemoveFromIndex(ChecksByNode, key.Node, key),
            ChecksByService = old.IsNodeCheck ? ChecksByService : RemoveFromIndex(ChecksByService, new ServiceKey(old.Node, old.ServiceId), key),
            NodeChecksByNode = old.IsNodeCheck ? RemoveFromIndex(NodeChecksByNode, key.Node, key) : NodeChecksByNode,
        };
    }

    private static TMap AddToIndex<TMap, TName, TKey>(TMap map, TName name, TKey key)
        where TMap : IImmutableDictionary<TName, ImmutableSortedSet<TKey>>
    {
        var set = map.TryGetValue(name, out var existing) ? existing : ImmutableSortedSet<TKey>.Empty;
        return (TMap)map.SetItem(name, set.Add(key));
    }

    private static TMap RemoveFromIndex<TMap, TName, TKey>(TMap map, TName name, TKey key)
        where TMap : IImmutableDictionary<TName, ImmutableSortedSet<TKey>>
    {
        if (!map.TryGetValue(name, out var set)) return map;
        set = set.Remove(key);
        return (TMap)(set.IsEmpty ? map.Remove(name) : map.SetItem(name, set));
    }
}

/// <summary>Orders config-entry keys by kind, then name, ordinally.</summary>
public sealed class ConfigEntryKeyComparer : IComparer<(string Kind, string Name)>
{
    public static readonly ConfigEntryKeyComparer Instance = new();

    public int Compare((string Kind, string Name) x, (string Kind, string Name) y)
    {
        var byKind = string.CompareOrdinal(x.Kind, y.Kind);
        return byKind != 0 ? byKind : string.CompareOrdinal(x.Name, y.Name);
    }
}
