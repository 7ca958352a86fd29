using System.Collections.Immutable;

namespace Weft.Core.Catalog;

/// <summary>
/// An immutable, versioned view of the whole catalog. Readers take the current instance and never lock;
/// a commit builds the next one by structural sharing and swaps it in.
/// </summary>
public sealed record CatalogState
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
    public ImmutableDictionary<string, ulong> TopicIndexes { get; init; } = ImmutableDictionary<string, ulong>.Empty;

    /// <summary>The index a blocking query on <paramref name="topic"/> reports: never 0, as Consul's.</summary>
    public ulong TopicIndex(string topic) => Math.Max(1, TopicIndexes.GetValueOrDefault(topic));

    public IEnumerable<ServiceRecord> InstancesOf(string serviceName) =>
        ServicesByName.TryGetValue(serviceName, out var keys) ? keys.Select(k => Services[k]) : [];

    public IEnumerable<ServiceRecord> ServicesOn(string node) =>
        ServicesByNode.TryGetValue(node, out var keys) ? keys.Select(k => Services[k]) : [];

    public IEnumerable<CheckRecord> ChecksOn(string node) =>
        ChecksByNode.TryGetValue(node, out var keys) ? keys.Select(k => Checks[k]) : [];

    /// <summary>Checks that bear on one instance's health: its node's checks, then its own.</summary>
    public IEnumerable<CheckRecord> ChecksFor(ServiceRecord service) =>
        ChecksOn(service.Node).Where(c => c.IsNodeCheck || c.ServiceId == service.Id);

    /// <summary>Service names with the union of their instances' tags, sorted, as <c>/v1/catalog/services</c>.</summary>
    public ImmutableSortedDictionary<string, ImmutableSortedSet<string>> ServiceTags()
    {
        var builder = ImmutableSortedDictionary.CreateBuilder<string, ImmutableSortedSet<string>>(StringComparer.Ordinal);
        foreach (var (name, _) in ServicesByName)
            builder[name] = TagsOf(name);
        return builder.ToImmutable();
    }

    public ImmutableSortedSet<string> TagsOf(string serviceName) =>
        InstancesOf(serviceName).SelectMany(s => s.Tags).ToImmutableSortedSet(StringComparer.Ordinal);

    /// <summary>Applies a commit's changes at <paramref name="index"/>, keeping each record's CreateIndex.</summary>
    public CatalogState Apply(IEnumerable<CatalogChange> changes, ulong index)
    {
        var state = this;
        foreach (var change in changes)
            state = state.Apply(change, index);
        return state with { Index = index };
    }

    public CatalogState Apply(CatalogChange change, ulong index) => change switch
    {
        CatalogChange.NodeUpsert c => PutNode(c.Node, index),
        CatalogChange.NodeDelete c => this with { Nodes = Nodes.Remove(c.Name) },
        CatalogChange.ServiceUpsert c => PutService(c.Service, index),
        CatalogChange.ServiceDelete c => RemoveService(c.Key),
        CatalogChange.CheckUpsert c => PutCheck(c.Check, index),
        CatalogChange.CheckDelete c => RemoveCheck(c.Key),
        CatalogChange.TopicTouch c => this with { TopicIndexes = TopicIndexes.SetItem(c.Topic, index) },
        _ => throw new ArgumentOutOfRangeException(nameof(change)),
    };

    private CatalogState PutNode(NodeRecord node, ulong index)
    {
        var create = Nodes.TryGetValue(node.Name, out var old) ? old.CreateIndex : index;
        return this with { Nodes = Nodes.SetItem(node.Name, node with { CreateIndex = create, ModifyIndex = index }) };
    }

    private CatalogState PutService(ServiceRecord service, ulong index)
    {
        var key = service.Key;
        var old = Services.GetValueOrDefault(key);
        var byName = ServicesByName;
        if (old is not null && old.Name != service.Name)
            byName = RemoveFromIndex(byName, old.Name, key);
        return this with
        {
            Services = Services.SetItem(key, service with { CreateIndex = old?.CreateIndex ?? index, ModifyIndex = index }),
            ServicesByName = AddToIndex(byName, service.Name, key),
            ServicesByNode = AddToIndex(ServicesByNode, service.Node, key),
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
        };
    }

    private CatalogState PutCheck(CheckRecord check, ulong index)
    {
        var create = Checks.TryGetValue(check.Key, out var old) ? old.CreateIndex : index;
        return this with
        {
            Checks = Checks.SetItem(check.Key, check with { CreateIndex = create, ModifyIndex = index }),
            ChecksByNode = AddToIndex(ChecksByNode, check.Node, check.Key),
        };
    }

    private CatalogState RemoveCheck(CheckKey key)
    {
        if (!Checks.ContainsKey(key)) return this;
        return this with { Checks = Checks.Remove(key), ChecksByNode = RemoveFromIndex(ChecksByNode, key.Node, key) };
    }

    private static TMap AddToIndex<TMap, TKey>(TMap map, string name, TKey key)
        where TMap : IImmutableDictionary<string, ImmutableSortedSet<TKey>>
    {
        var set = map.TryGetValue(name, out var existing) ? existing : ImmutableSortedSet<TKey>.Empty;
        return (TMap)map.SetItem(name, set.Add(key));
    }

    private static TMap RemoveFromIndex<TMap, TKey>(TMap map, string name, TKey key)
        where TMap : IImmutableDictionary<string, ImmutableSortedSet<TKey>>
    {
        if (!map.TryGetValue(name, out var set)) return map;
        set = set.Remove(key);
        return (TMap)(set.IsEmpty ? map.Remove(name) : map.SetItem(name, set));
    }
}
