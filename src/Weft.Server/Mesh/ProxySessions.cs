using System.Collections.Concurrent;
using Weft.Core.Catalog;
using Weft.Server.Catalog;

namespace Weft.Server.Mesh;

/// <summary>
/// Every open proxy stream, and the fan-out of catalog commits to them: a commit marks, in each session, the
/// services whose topics it touched and the config entries it wrote; each stream then sends what differs.
/// </summary>
internal sealed class ProxySessions : IDisposable
{
    private const string ServiceTopicPrefix = "service:";

    private readonly CatalogStore _catalog;
    private readonly ConcurrentDictionary<ProxySession, byte> _sessions = new();

    public ProxySessions(CatalogStore catalog)
    {
        _catalog = catalog;
        _catalog.Committed += OnCommitted;
    }

    public IReadOnlyList<ProxySession> Connected => [.. _sessions.Keys.OrderBy(s => s.ProxyId, StringComparer.Ordinal)];

    /// <summary>Streams open now.</summary>
    public int Count => _sessions.Count;

    public long NacksReceived => Interlocked.Read(ref _nacks);

    private long _nacks;

    public void Add(ProxySession session) => _sessions.TryAdd(session, 0);

    public void Remove(ProxySession session) => _sessions.TryRemove(session, out _);

    /// <summary>Ends every stream opened with the token <paramref name="accessorId"/>; returns how many.</summary>
    public int CloseAllOf(string accessorId)
    {
        var closed = 0;
        foreach (var session in _sessions.Keys)
        {
            if (session.AccessorId != accessorId) continue;
            session.Close("the ACL token this stream was opened with was deleted");
            closed++;
        }

        return closed;
    }

    public void CountNack() => Interlocked.Increment(ref _nacks);

    private void OnCommitted(CatalogState state, IReadOnlyList<CatalogChange> changes)
    {
        if (_sessions.IsEmpty) return;
        // The writer raises Committed right after the store returned the batch durable (and the new view is published).
        var committedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        List<string>? services = null;
        List<(string, string)>? entries = null;
        foreach (var change in changes)
        {
            switch (change)
            {
                case CatalogChange.TopicTouch t when t.Topic.StartsWith(ServiceTopicPrefix, StringComparison.Ordinal):
                    (services ??= []).Add(t.Topic[ServiceTopicPrefix.Length..]);
                    break;
                case CatalogChange.ConfigEntryUpsert u:
                    (entries ??= []).Add((u.Entry.Kind, u.Entry.Name));
                    break;
                case CatalogChange.ConfigEntryDelete d:
                    (entries ??= []).Add((d.Kind, d.Name));
                    break;
            }
        }

        if (services is null && entries is null) return;
        foreach (var session in _sessions.Keys)
            session.MarkDirty(services ?? [], entries ?? [], committedAt);
    }

    public void Dispose() => _catalog.Committed -= OnCommitted;
}
