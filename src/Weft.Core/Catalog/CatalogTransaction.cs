using System.Collections.Immutable;
using Weft.Core.Config;

namespace Weft.Core.Catalog;

/// <summary>
/// Builds one commit: applies changes to a working copy of the catalog as they are made (so later
/// operations in the same group commit see earlier ones), skips writes that change nothing, cascades
/// deletes as Consul does, and works out which blocking-query topics the commit touches.
/// </summary>
public sealed class CatalogTransaction
{
    private readonly List<CatalogChange> _changes = [];
    private readonly HashSet<string> _topics = new(StringComparer.Ordinal);
    // Tag sets of the service names this transaction touched, as they were before it (null: no such service).
    private readonly Dictionary<string, ImmutableSortedSet<string>?> _tagsBefore = new(StringComparer.Ordinal);

    public CatalogTransaction(CatalogState state, ulong provisionalIndex)
    {
        State = state;
        ProvisionalIndex = provisionalIndex;
    }

    /// <summary>The catalog as it would be after this transaction commits at <see cref="ProvisionalIndex"/>.</summary>
    public CatalogState State { get; private set; }

    public ulong ProvisionalIndex { get; }

    public bool HasChanges => _changes.Count > 0;

    public void PutNode(NodeRecord node)
    {
        if (State.Nodes.TryGetValue(node.Name, out var old) && SameNode(old, node)) return;
        Emit(new CatalogChange.NodeUpsert(node));
        _topics.Add(Topics.Nodes);
        TouchNode(node.Name, includeServices: true);
        // The name list can be filtered by node meta, so a node's meta reaches it through its services.
        if (old is not null && !old.Meta.SequenceEqual(node.Meta) && State.ServicesByNode.ContainsKey(node.Name))
            _topics.Add(Topics.ServiceNames);
    }

    public bool DeleteNode(string name)
    {
        if (!State.Nodes.ContainsKey(name)) return false;
        foreach (var service in State.ServicesOn(name).ToList())
            DeleteService(service.Key);
        foreach (var check in State.ChecksOn(name).ToList())
            DeleteCheck(check.Key);
        Emit(new CatalogChange.NodeDelete(name));
        _topics.Add(Topics.Nodes);
        _topics.Add(Topics.Node(name));
        return true;
    }

    public void PutService(ServiceRecord service)
    {
        var old = State.Services.GetValueOrDefault(service.Key);
        if (old is not null && old.SameAs(service)) return;
        NoteTags(service.Name);
        if (old is not null && old.Name != service.Name)
        {
            NoteTags(old.Name);
            _topics.Add(Topics.Service(old.Name));
        }

        Emit(new CatalogChange.ServiceUpsert(service));
        _topics.Add(Topics.Service(service.Name));
        _topics.Add(Topics.Node(service.Node));
    }

    public bool DeleteService(ServiceKey key)
    {
        if (!State.Services.TryGetValue(key, out var old)) return false;
        foreach (var check in State.ChecksOf(key).ToList())
            DeleteCheck(check.Key);
        NoteTags(old.Name);
        Emit(new CatalogChange.ServiceDelete(key));
        _topics.Add(Topics.Service(old.Name));
        _topics.Add(Topics.Node(key.Node));
        return true;
    }

    public void PutCheck(CheckRecord check)
    {
        if (State.Checks.TryGetValue(check.Key, out var old) && SameCheck(old, check)) return;
        Emit(new CatalogChange.CheckUpsert(check));
        TouchCheck(check);
        if (old is not null && old.ServiceName != check.ServiceName && old.ServiceName.Length > 0)
            _topics.Add(Topics.Service(old.ServiceName));
    }

    public bool DeleteCheck(CheckKey key)
    {
        if (!State.Checks.TryGetValue(key, out var old)) return false;
        Emit(new CatalogChange.CheckDelete(key));
        TouchCheck(old);
        return true;
    }

    /// <summary>
    /// Stores a config entry (already validated). Returns false when it equals the stored one, indexes aside:
    /// such a write changes nothing and wakes nobody.
    /// </summary>
    public bool PutConfigEntry(ConfigEntry entry)
    {
        var old = State.ConfigEntry(entry.Kind, entry.Name);
        if (old is not null && ConfigEntryJson.SameContent(old, entry)) return false;
        Emit(new CatalogChange.ConfigEntryUpsert(entry with { CreateIndex = 0, ModifyIndex = 0 }));
        TouchConfigEntry(entry.Kind, entry.Name);
        return true;
    }

    public bool DeleteConfigEntry(string kind, string name)
    {
        if (State.ConfigEntry(kind, name) is null) return false;
        Emit(new CatalogChange.ConfigEntryDelete(kind, name));
        TouchConfigEntry(kind, name);
        return true;
    }

    /// <summary>Stores a root of the certificate authority (whole, as given) and wakes the watchers of the roots.</summary>
    public void PutCaRoot(CaRootRecord root)
    {
        Emit(new CatalogChange.CaRootUpsert(root with { CreateIndex = 0, ModifyIndex = 0 }));
        _topics.Add(Topics.CaRoots);
    }

    public bool DeleteCaRoot(string id)
    {
        if (!State.CaRoots.ContainsKey(id)) return false;
        Emit(new CatalogChange.CaRootDelete(id));
        _topics.Add(Topics.CaRoots);
        return true;
    }

    /// <summary>A point to roll back to when one operation of a group commit fails.</summary>
    public Checkpoint Mark() => new(State, _changes.Count, [.. _topics], new(_tagsBefore, StringComparer.Ordinal));

    public void Rollback(Checkpoint mark)
    {
        State = mark.State;
        _changes.RemoveRange(mark.ChangeCount, _changes.Count - mark.ChangeCount);
        _topics.Clear();
        _topics.UnionWith(mark.Topics);
        _tagsBefore.Clear();
        foreach (var (k, v) in mark.TagsBefore) _tagsBefore[k] = v;
    }

    /// <summary>The changes to commit, ending with the topics they touched.</summary>
    public IReadOnlyList<CatalogChange> Complete()
    {
        if (_changes.Count == 0) return [];
        foreach (var (name, before) in _tagsBefore)
        {
            var after = State.ServicesByName.ContainsKey(name) ? State.TagsOf(name) : null;
            if (after is null != before is null || after is not null && before is not null && !after.SequenceEqual(before))
                _topics.Add(Topics.ServiceNames);
        }

        var all = new List<CatalogChange>(_changes.Count + _topics.Count);
        all.AddRange(_changes);
        foreach (var topic in _topics.Order(StringComparer.Ordinal))
        {
            all.Add(new CatalogChange.TopicTouch(topic));
            State = State.Apply(new CatalogChange.TopicTouch(topic), ProvisionalIndex);
        }

        State = State with { Index = ProvisionalIndex };
        return all;
    }

    private void NoteTags(string name)
    {
        if (_tagsBefore.ContainsKey(name)) return;
        _tagsBefore[name] = State.ServicesByName.ContainsKey(name) ? State.TagsOf(name) : null;
    }

    private void Emit(CatalogChange change)
    {
        _changes.Add(change);
        State = State.Apply(change, ProvisionalIndex);
    }

    private void TouchConfigEntry(string kind, string name)
    {
        _topics.Add(Topics.ConfigEntry(kind, name));
        _topics.Add(Topics.ConfigKind(kind));
    }

    private void TouchCheck(CheckRecord check)
    {
        _topics.Add(Topics.Checks);
        if (check.IsNodeCheck)
            TouchNode(check.Node, includeServices: true);
        else
        {
            _topics.Add(Topics.Node(check.Node));
            if (check.ServiceName.Length > 0) _topics.Add(Topics.Service(check.ServiceName));
            else if (State.Services.TryGetValue(new ServiceKey(check.Node, check.ServiceId), out var s)) _topics.Add(Topics.Service(s.Name));
        }
    }

    private void TouchNode(string node, bool includeServices)
    {
        _topics.Add(Topics.Node(node));
        if (!includeServices) return;
        foreach (var service in State.ServicesOn(node))
            _topics.Add(Topics.Service(service.Name));
    }

    private static bool SameNode(NodeRecord a, NodeRecord b) =>
        a.Id == b.Id && a.Address == b.Address && a.Datacenter == b.Datacenter
        && a.TaggedAddresses.SequenceEqual(b.TaggedAddresses) && a.Meta.SequenceEqual(b.Meta);

    private static bool SameCheck(CheckRecord a, CheckRecord b) =>
        a.Name == b.Name && a.Status == b.Status && a.Notes == b.Notes && a.Output == b.Output
        && a.ServiceId == b.ServiceId && a.ServiceName == b.ServiceName && a.ServiceTags.SequenceEqual(b.ServiceTags)
        && (a.Definition is null ? b.Definition is null : a.Definition.Equivalent(b.Definition));

    public sealed record Checkpoint(
        CatalogState State,
        int ChangeCount,
        HashSet<string> Topics,
        Dictionary<string, ImmutableSortedSet<string>?> TagsBefore);
}
