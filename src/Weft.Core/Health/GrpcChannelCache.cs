using Grpc.Net.Client;

namespace Weft.Core.Health;

/// <summary>
/// One gRPC channel (and so one HTTP/2 connection) per target, shared by every check that probes it.
/// A channel idle for <see cref="IdleLifetime"/> with no call in flight is disposed when the cache is
/// next used, so targets that went away do not hold sockets forever.
/// </summary>
internal sealed class GrpcChannelCache : IDisposable
{
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromMinutes(5);

    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private readonly Dictionary<ChannelKey, Entry> _entries = [];
    private bool _disposed;

    public GrpcChannelCache(TimeProvider timeProvider) => _timeProvider = timeProvider;

    public int Count
    {
        get
        {
            lock (_lock)
                return _entries.Count;
        }
    }

    /// <summary>Borrows the channel for one call; dispose the lease when the call ends.</summary>
    public Lease Rent(string address, bool useTls, bool skipVerify)
    {
        var key = new ChannelKey(address, useTls, useTls && skipVerify);
        List<GrpcChannel> idle;
        Entry entry;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var now = _timeProvider.GetTimestamp();
            idle = EvictIdle(now);
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry(CreateChannel(key));
                _entries.Add(key, entry);
            }

            entry.InFlight++;
            entry.LastUsed = now;
        }

        foreach (var channel in idle)
            channel.Dispose();
        return new Lease(this, entry);
    }

    private List<GrpcChannel> EvictIdle(long now)
    {
        List<GrpcChannel> evicted = [];
        foreach (var (key, entry) in _entries)
        {
            if (entry.InFlight == 0 && _timeProvider.GetElapsedTime(entry.LastUsed, now) >= IdleLifetime)
            {
                // Removing during enumeration is allowed for Dictionary since .NET Core 3.0.
                _entries.Remove(key);
                evicted.Add(entry.Channel);
            }
        }

        return evicted;
    }

    private void Return(Entry entry)
    {
        lock (_lock)
        {
            entry.InFlight--;
            entry.LastUsed = _timeProvider.GetTimestamp();
        }
    }

    private static GrpcChannel CreateChannel(ChannelKey key)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            EnableMultipleHttp2Connections = true,
        };
        if (key.SkipVerify)
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;

        // An http:// address makes Grpc.Net.Client speak HTTP/2 without TLS (h2c), as Consul does
        // unless GRPCUseTLS is set.
        var scheme = key.UseTls ? "https" : "http";
        return GrpcChannel.ForAddress($"{scheme}://{key.Address}", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
        });
    }

    public void Dispose()
    {
        List<GrpcChannel> channels;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            channels = [.. _entries.Values.Select(e => e.Channel)];
            _entries.Clear();
        }

        foreach (var channel in channels)
            channel.Dispose();
    }

    private readonly record struct ChannelKey(string Address, bool UseTls, bool SkipVerify);

    internal sealed class Entry(GrpcChannel channel)
    {
        public GrpcChannel Channel { get; } = channel;
        public int InFlight { get; set; }
        public long LastUsed { get; set; }
    }

    internal readonly struct Lease : IDisposable
    {
        private readonly GrpcChannelCache _cache;
        private readonly Entry _entry;

        public Lease(GrpcChannelCache cache, Entry entry)
        {
            _cache = cache;
            _entry = entry;
        }

        public GrpcChannel Channel => _entry.Channel;

        public void Dispose() => _cache.Return(_entry);
    }
}
