using System.Net;
using System.Net.Sockets;

namespace Weft.Proxy.Net;

/// <summary>
/// A connected TCP socket driven by an <see cref="EpollEngine"/> instead of .NET's socket engine, so that a receive
/// issued after a short read waits for the next readable edge instead of trying <c>recv</c> first (which returns
/// EAGAIN). The fd belongs to a .NET <see cref="System.Net.Sockets.Socket"/> (options, endpoints, closing exactly
/// once through its SafeHandle), on which no asynchronous operation is ever started; every read and write here is a
/// non-blocking libc call. One receive and one send (or connect) may be in progress at a time.
/// <see cref="SendAsync"/> may send partially (what the kernel took, at least one byte; .NET's Socket.SendAsync sends
/// everything), <see cref="SendAllAsync"/> loops. Errors are the <see cref="SocketException"/>s
/// .NET would raise (ConnectionReset, ConnectionRefused, OperationAborted for an operation the disposal ended),
/// cancellation an <see cref="OperationCanceledException"/>.
/// </summary>
internal sealed class EpollSocket : IDisposable
{
    private readonly EpollEngine _engine;
    private readonly EpollOperation _receive;
    private readonly EpollOperation _send;
    private readonly EpollOperation _connect;
    private readonly SafeSocketHandle _handle;
    private readonly int _fd;
    private int _disposed;
    private volatile bool _connecting;

    /// <summary>Takes over a connected socket (an accepted one): registered with the engine at once.</summary>
    public EpollSocket(Socket socket, EpollEngine? engine = null)
        : this(socket, engine ?? EpollEngine.Next(), register: true)
    {
    }

    private EpollSocket(Socket socket, EpollEngine engine, bool register)
    {
        Socket = socket;
        _engine = engine;
        socket.Blocking = false;
        _handle = socket.SafeHandle;
        _fd = (int)_handle.DangerousGetHandle();
        _receive = new EpollOperation(this, EpollOperation.Kind.Receive);
        _send = new EpollOperation(this, EpollOperation.Kind.Send);
        _connect = new EpollOperation(this, EpollOperation.Kind.Connect);
        if (register)
            engine.Register(this, _fd);
    }

    /// <summary>The .NET socket that owns the fd: for options and endpoints only, never for I/O.</summary>
    public Socket Socket { get; }

    /// <summary>
    /// Continuations of operations the engine completes run on its thread (true, the default) or on the thread pool;
    /// those a cancellation or the disposal completes always run on the thread pool.
    /// </summary>
    public bool InlineCompletions { get; set; } = true;

    internal Lock Gate { get; } = new();

    internal ulong Token { get; set; }

    internal bool Disposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>A new, unconnected TCP socket for <paramref name="family"/> with Nagle off.</summary>
    public static EpollSocket Create(AddressFamily family, EpollEngine? engine = null)
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        return new EpollSocket(socket, engine ?? EpollEngine.Next(), register: false);
    }

    /// <summary>Connects without blocking (EINPROGRESS, then the first writable edge and SO_ERROR); registers with the engine.</summary>
    public async ValueTask ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken = default)
    {
        if (endPoint is DnsEndPoint dns)
        {
            var addresses = await Dns.GetHostAddressesAsync(dns.Host, Socket.AddressFamily, cancellationToken);
            if (addresses.Length == 0)
                throw new SocketException((int)SocketError.HostNotFound);
            endPoint = new IPEndPoint(addresses[0], dns.Port);
        }

        if (Start(endPoint.Serialize()))
            return;
        _connecting = true;
        try
        {
            var pending = _connect.ParkConnect(cancellationToken);
            _engine.Register(this, _fd);
            await pending;
        }
        finally
        {
            _connecting = false;
        }
    }

    /// <summary>Starts the connect; true when it completed at once (registered then), false while in progress.</summary>
    private unsafe bool Start(SocketAddress address)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        int result, errno;
        fixed (byte* p = address.Buffer.Span)
        {
            do
            {
                result = Libc.connect(_fd, p, address.Size);
                errno = result == 0 ? 0 : Libc.Errno;
            }
            while (errno == Libc.EINTR);
        }

        if (result == 0)
        {
            _engine.Register(this, _fd);
            return true;
        }

        if (errno != Libc.EINPROGRESS)
            throw Libc.Error(errno);
        return false;
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _receive.RunAsync(buffer, cancellationToken);

    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _send.RunAsync(System.Runtime.InteropServices.MemoryMarshal.AsMemory(buffer), cancellationToken);

    /// <summary>Sends all of <paramref name="data"/> (several sends when the kernel takes part of it).</summary>
    public async ValueTask SendAllAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        while (!data.IsEmpty)
        {
            var n = await SendAsync(data, cancellationToken);
            data = data[n..];
        }
    }

    /// <summary>
    /// Whether a receive would not wait: data, the peer's FIN or an error is there (as Socket.Poll with SelectRead). No
    /// syscall when no edge came since the last receive that found less than it asked for; else one.
    /// </summary>
    public unsafe bool PollReadable()
    {
        // No edge since the last short read: nothing came, no need to ask the kernel.
        if (!_receive.Ready)
            return false;
        byte b;
        var n = Call(EpollOperation.Kind.Receive, new Span<byte>(&b, 1), out var errno, Libc.MSG_PEEK | Libc.MSG_DONTWAIT);
        return n >= 0 || errno != Libc.EAGAIN;
    }

    public void Shutdown(SocketShutdown how)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        Socket.Shutdown(how);
    }

    /// <summary>The engine's events for this socket (engine thread).</summary>
    internal void OnEvents(uint events)
    {
        const uint Failed = Libc.EPOLLHUP | Libc.EPOLLERR;
        if ((events & (Libc.EPOLLOUT | Failed)) != 0)
        {
            if (_connecting)
                _connect.OnEdge();
            // (Registered only once connect() started: an unconnected socket would report HUP.)
            _send.OnEdge(final: (events & Failed) != 0);
        }

        if ((events & (Libc.EPOLLIN | Libc.EPOLLRDHUP | Failed)) != 0)
            _receive.OnEdge(final: (events & (Libc.EPOLLRDHUP | Failed)) != 0);
    }

    /// <summary>One recv or send on the fd, holding the SafeHandle so that a concurrent dispose cannot close (and the kernel reuse) the fd under it.</summary>
    internal unsafe int Call(EpollOperation.Kind kind, Span<byte> buffer, out int errno, int flags = 0)
    {
        var handle = _handle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            errno = 9; // EBADF
            return -1;
        }

        try
        {
            nint n;
            fixed (byte* p = buffer)
            {
                n = kind == EpollOperation.Kind.Receive
                    ? Libc.recv(_fd, p, buffer.Length, flags)
                    : Libc.send(_fd, p, buffer.Length, flags | Libc.MSG_NOSIGNAL);
            }

            errno = n < 0 ? Libc.Errno : 0;
            return (int)n;
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    /// <summary>The outcome of a connect in progress (SO_ERROR): 0 when connected, else -1 and the errno.</summary>
    internal unsafe int ConnectResult(out int errno)
    {
        int error = 0, length = sizeof(int);
        errno = Libc.getsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &error, &length) == 0 ? error : Libc.Errno;
        // Still in progress would be EAGAIN-like; an edge only comes once it is done.
        return errno == 0 ? 0 : -1;
    }

    /// <summary>Closes with a reset (SO_LINGER 0) instead of a FIN: what an abort looks like to the peer.</summary>
    public void Abort()
    {
        if (Disposed)
            return;
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        Dispose();
    }

    /// <summary>Parked operations complete with OperationAborted (never hang), the fd closes once; safe from any thread, the engine's included.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        lock (Gate)
        {
            // Ordered with the operations' checks, which read Disposed under this lock.
        }

        _receive.Abort();
        _send.Abort();
        _connect.Abort();
        if (Token != 0)
            _engine.Unregister(Token);
        Socket.Dispose();
    }
}
