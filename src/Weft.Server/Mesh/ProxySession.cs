using System.Threading.Channels;
using Weft.Core.Mesh.Protocol;

namespace Weft.Server.Mesh;

/// <summary>
/// One connected sidecar: who it is, what it was sent and acknowledged, and what changed since its last
/// message. Changes are kept as a set of keys and read from the newest catalog when sent, so a slow sidecar
/// gets the newest state in one message and its backlog never grows beyond the catalog's size.
/// </summary>
internal sealed class ProxySession(Hello hello, DateTimeOffset connectedAt, string accessorId = Weft.Server.Acl.AclIdentity.ManagementAccessorId)
{
    private readonly CancellationTokenSource _closed = new();

    private readonly Lock _lock = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private HashSet<string> _dirtyServices = new(StringComparer.Ordinal);
    private HashSet<(string Kind, string Name)> _dirtyEntries = [];
    private ulong _sentVersion, _ackedVersion;
    private (ulong Version, string Reason)? _lastNack;

    public string ProxyId { get; } = hello.ProxyId;
    public string Service { get; } = hello.Service;
    public string Node { get; } = hello.Node;
    public DateTimeOffset ConnectedAt { get; } = connectedAt;

    /// <summary>The AccessorID of the token the stream was opened with.</summary>
    public string AccessorId { get; } = accessorId;

    /// <summary>Cancelled when the server ends the stream on its own, e.g. because its token was deleted.</summary>
    public CancellationToken Closed => _closed.Token;

    public string? ClosedReason { get; private set; }

    public void Close(string reason)
    {
        ClosedReason ??= reason;
        _closed.Cancel();
    }

    public ulong SentVersion => Interlocked.Read(ref _sentVersion);
    public ulong AckedVersion => Interlocked.Read(ref _ackedVersion);

    public (ulong Version, string Reason)? LastNack
    {
        get { lock (_lock) return _lastNack; }
    }

    public int NackCount { get; private set; }

    /// <summary>Hello and every Heartbeat since.</summary>
    public long Heartbeats => Interlocked.Read(ref _heartbeats);

    private long _heartbeats;

    public void Heartbeat() => Interlocked.Increment(ref _heartbeats);

    // Stopwatch timestamp of the oldest commit marked since the last TakeDirty (0: none): a push's latency is from it.
    private long _oldestCommit;

    /// <summary>
    /// Called on the catalog's writer: must only record and wake. <paramref name="committedAt"/> is the commit's Stopwatch
    /// timestamp, taken when the store returned it durable.
    /// </summary>
    public void MarkDirty(IEnumerable<string> services, IEnumerable<(string Kind, string Name)> entries, long committedAt = 0)
    {
        lock (_lock)
        {
            _dirtyServices.UnionWith(services);
            _dirtyEntries.UnionWith(entries);
            if (_oldestCommit == 0) _oldestCommit = committedAt;
        }

        _wake.Writer.TryWrite(true);
    }

    public ValueTask<bool> WaitForChangeAsync(CancellationToken cancellationToken) => _wake.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>
    /// Takes what changed since the last call, leaving nothing marked, with the Stopwatch timestamp of the oldest commit
    /// among those changes (0 when none was marked with one).
    /// </summary>
    public (HashSet<string> Services, HashSet<(string Kind, string Name)> Entries, long OldestCommit) TakeDirty()
    {
        _wake.Reader.TryRead(out _);
        lock (_lock)
        {
            var taken = (_dirtyServices, _dirtyEntries, _oldestCommit);
            _dirtyServices = new(StringComparer.Ordinal);
            _dirtyEntries = [];
            _oldestCommit = 0;
            return taken;
        }
    }

    /// <summary>What the sidecar said of itself in its last stats report (null before the first), and when it arrived.</summary>
    public (Weft.Core.Mesh.Protocol.Stats Report, DateTimeOffset At)? LastStats
    {
        get { lock (_lock) return _lastStats; }
    }

    private (Weft.Core.Mesh.Protocol.Stats, DateTimeOffset)? _lastStats;

    public void Reported(Weft.Core.Mesh.Protocol.Stats stats, DateTimeOffset at)
    {
        // Only the scalars are read later; the per-route counters are the aggregator's.
        var kept = new Weft.Core.Mesh.Protocol.Stats
        {
            Version = stats.Version,
            CertificateNotAfterUnixMs = stats.CertificateNotAfterUnixMs,
            ConfigVersion = stats.ConfigVersion,
            ConfigAgeSeconds = stats.ConfigAgeSeconds,
            StartedUnixMs = stats.StartedUnixMs,
        };
        lock (_lock) _lastStats = (kept, at);
    }

    public void Sent(ulong version) => Interlocked.Exchange(ref _sentVersion, version);

    public void Acked(ulong version) => Interlocked.Exchange(ref _ackedVersion, version);

    public void Nacked(ulong version, string reason)
    {
        lock (_lock)
        {
            _lastNack = (version, reason);
            NackCount++;
        }
    }
}
