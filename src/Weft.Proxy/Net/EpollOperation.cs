using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Weft.Proxy.Net;

/// <summary>
/// One direction of an <see cref="EpollSocket"/> (receive, or send and connect): its readiness and its one parked
/// operation. Ready until a call returns EAGAIN or moves fewer bytes than asked; then an operation parks without a
/// syscall until the next edge for this direction, and the engine thread retries it. The race between "not ready"
/// and an edge arriving meanwhile is closed by <see cref="_edges"/>: an operation marks the direction not ready only
/// if no edge came since it read the count before its syscall (else it retries at once). A receive starts not ready:
/// registering reports what is already there as an edge. A send starts ready.
/// </summary>
internal sealed class EpollOperation(EpollSocket owner, EpollOperation.Kind kind) : IValueTaskSource<int>
{
    public enum Kind { Receive, Send, Connect }

    private ManualResetValueTaskSourceCore<int> _core;
    private Memory<byte> _buffer;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;
    private int _edges;
    private bool _ready = kind == Kind.Send;
    private bool _final;
    private bool _parked;
    private bool _pending;

    private Lock Gate => owner.Gate;

    /// <summary>
    /// False once a call moved fewer bytes than asked (or parked) and no edge came since: for a receive, nothing (no
    /// data, no FIN) arrived after the last read. True says only "maybe": ask the kernel.
    /// </summary>
    public bool Ready
    {
        get
        {
            lock (Gate)
                return _ready;
        }
    }

    /// <summary>Receives or sends: at once (one syscall) when the direction is ready, else parked until its next edge.</summary>
    public ValueTask<int> RunAsync(Memory<byte> buffer, CancellationToken token)
    {
        if (token.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(token);
        int edges;
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(owner.Disposed, owner);
            if (_pending)
                throw new InvalidOperationException($"another {kind} is in progress on this socket");
            edges = _edges;
            if (!_ready)
                return Park(buffer, token);
        }

        // Nothing to move (a zero-byte receive waits for data: "ready" says there may be some).
        if (buffer.IsEmpty)
            return new ValueTask<int>(0);

        while (true)
        {
            var n = owner.Call(kind, buffer.Span, out var errno);
            if (n >= 0)
            {
                if (n < buffer.Length && n > 0)
                    MarkNotReady(edges);
                return new ValueTask<int>(n);
            }

            if (errno == Libc.EINTR)
                continue;
            if (errno != Libc.EAGAIN)
                return ValueTask.FromException<int>(owner.Disposed ? Aborted() : Libc.Error(errno));
            lock (Gate)
            {
                if (owner.Disposed)
                    return ValueTask.FromException<int>(Aborted());
                if (_edges != edges)
                {
                    edges = _edges;
                    continue;
                }

                _ready = _final;
                return Park(buffer, token);
            }
        }
    }

    /// <summary>A connect in progress: completes (SO_ERROR) at the first writable edge after registration.</summary>
    public ValueTask<int> ParkConnect(CancellationToken token)
    {
        lock (Gate)
        {
            _ready = false;
            return Park(Memory<byte>.Empty, token);
        }
    }

    private ValueTask<int> Park(Memory<byte> buffer, CancellationToken token)
    {
        _core.Reset();
        _buffer = buffer;
        _token = token;
        _pending = true;
        _parked = true;
        var version = _core.Version;
        if (token.CanBeCanceled)
            _registration = token.UnsafeRegister(static (s, t) => ((EpollOperation)s!).OnCancel(t), this);
        return new ValueTask<int>(this, version);
    }

    private void MarkNotReady(int edges)
    {
        lock (Gate)
        {
            if (_edges == edges && !_final)
                _ready = false;
        }
    }

    /// <summary>
    /// An edge for this direction (engine thread): ready again; a parked operation runs now. <paramref name="final"/>:
    /// the peer closed or the connection failed, which epoll reports once: ready for good (the calls return 0 or the error).
    /// </summary>
    public void OnEdge(bool final = false)
    {
        int edges;
        lock (Gate)
        {
            _edges++;
            _ready = true;
            _final |= final;
            if (!_parked)
                return;
            _parked = false;
            edges = _edges;
        }

        Execute(edges);
    }

    private void Execute(int edges)
    {
        while (true)
        {
            var errno = 0;
            var n = kind == Kind.Connect ? owner.ConnectResult(out errno) : _buffer.IsEmpty ? 0 : owner.Call(kind, _buffer.Span, out errno);
            if (n >= 0)
            {
                if (n < _buffer.Length && n > 0)
                    MarkNotReady(edges);
                Complete(n, null);
                return;
            }

            if (errno == Libc.EINTR)
                continue;
            if (errno != Libc.EAGAIN)
            {
                Complete(0, owner.Disposed ? Aborted() : Libc.Error(errno));
                return;
            }

            lock (Gate)
            {
                if (!owner.Disposed && !_token.IsCancellationRequested)
                {
                    if (_edges != edges)
                    {
                        edges = _edges;
                        continue;
                    }

                    // A spurious edge: wait for the next one.
                    _ready = _final;
                    _parked = true;
                    return;
                }
            }

            Complete(0, owner.Disposed ? Aborted() : new OperationCanceledException(_token));
            return;
        }
    }

    private void OnCancel(CancellationToken token)
    {
        lock (Gate)
        {
            if (!_parked || _token != token)
                return;
            _parked = false;
        }

        Complete(0, new OperationCanceledException(token), inline: false);
    }

    /// <summary>The socket is being disposed: a parked operation completes with OperationAborted.</summary>
    public void Abort()
    {
        lock (Gate)
        {
            if (!_parked)
                return;
            _parked = false;
        }

        Complete(0, Aborted(), inline: false);
    }

    private static SocketException Aborted() => new((int)SocketError.OperationAborted);

    /// <summary>
    /// Completes the parked operation. Only the engine thread runs continuations inline (when the socket wants it): a
    /// cancellation or a disposal completes on the thread pool, as .NET's sockets do, since their callers (a token's
    /// callback, a Dispose under a lock) must not find the awaiting code running on their stack.
    /// </summary>
    private void Complete(int result, Exception? error, bool inline = true)
    {
        _registration.Unregister();
        _registration = default;
        _buffer = default;
        _token = default;
        _core.RunContinuationsAsynchronously = !(inline && owner.InlineCompletions);
        if (error is null)
            _core.SetResult(result);
        else
            _core.SetException(error);
    }

    public int GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            lock (Gate)
                _pending = false;
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
