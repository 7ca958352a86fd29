namespace Weft.Proxy.Http2;

/// <summary>
/// Keep-alive PINGs of an HTTP/2 connection (client or server side): after <see cref="Interval"/> without a frame from
/// the peer, a PING goes out; if nothing at all arrives within <see cref="Timeout"/> of it, the connection is taken for
/// dead. A peer that vanished without a FIN or RST (a host gone, a partition, a connection-tracking middlebox that forgot
/// the flow) otherwise holds the connection, and every request on it, until TCP gives up, about 15 minutes. Linkerd's
/// proxies ping the same way (10 s interval); <see cref="Default"/> gives the answer 5 s, enough for a loaded 2-core host.
/// </summary>
/// <param name="Interval">How long the peer may be silent before a PING; zero turns keep-alive off.</param>
/// <param name="Timeout">How long a PING may go unanswered (no frame of any kind) before the connection is failed.</param>
internal readonly record struct Http2KeepAlive(TimeSpan Interval, TimeSpan Timeout)
{
    /// <summary>Counts the connections these settings took for dead (<c>/metrics</c>); none when null.</summary>
    public DeadConnections? Dead { get; init; }

    public static readonly Http2KeepAlive Default = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));
    public bool Enabled => Interval > TimeSpan.Zero && Timeout > TimeSpan.Zero;

    /// <summary>These settings with each at least <paramref name="floor"/> (Kestrel's and SocketsHttpHandler's minimum is 1 s).</summary>
    public Http2KeepAlive AtLeast(TimeSpan floor) => this with { Interval = Interval < floor ? floor : Interval, Timeout = Timeout < floor ? floor : Timeout };

    /// <summary>Why a connection was failed: what the peer did not do.</summary>
    public string DeadMessage(string peer) =>
        $"the {peer} did not answer a keep-alive PING within {Timeout.TotalSeconds:0.###} s " +
        $"(sent after {Interval.TotalSeconds:0.###} s without a frame from it): the connection is taken for dead";
}

/// <summary>How many connections keep-alive failed because their peer stopped answering.</summary>
internal sealed class DeadConnections
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Add() => Interlocked.Increment(ref _count);
}
