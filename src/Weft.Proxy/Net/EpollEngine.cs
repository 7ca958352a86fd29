using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Weft.Proxy.Net;

/// <summary>
/// One epoll instance and the dedicated thread that waits on it. Sockets are registered once, edge-triggered for
/// reading and writing (<see cref="EpollSocket"/> tracks readiness between edges), and their parked operations complete
/// on this thread, inline by default. Linux only; <see cref="Shared"/> are the process's engines, created on first use.
/// </summary>
internal sealed unsafe class EpollEngine : IDisposable
{
    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;

    private static readonly Lock s_gate = new();
    private static EpollEngine[]? s_engines;
    private static int s_next;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly Lock _gate = new();
    private readonly Stack<int> _free = new();
    private EpollSocket?[] _slots = new EpollSocket?[64];
    private int _used;
    private uint _generation;
    private volatile bool _stopping;

    [ThreadStatic]
    private static EpollEngine? t_current;

    // Touched on the engine's thread only.
    private readonly List<IBatchEndWork> _batchEnd = [];

    // Written by the engine's thread before each wait; see AllocatedBytes.
    private long _allocated;
    private volatile bool _waiting;

    /// <summary>Whether this platform has epoll (the engine is not used elsewhere).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>How many engines <see cref="Next"/> spreads sockets over: <c>WEFT_FAST_ENGINE_THREADS</c>, 1 by default.</summary>
    public static int Count { get; } = int.TryParse(Environment.GetEnvironmentVariable("WEFT_FAST_ENGINE_THREADS"), out var n) && n is > 0 and <= 64 ? n : 1;

    public EpollEngine(string name)
    {
        if (!IsSupported)
            throw new PlatformNotSupportedException("the epoll engine runs on Linux only");
        _epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        if (_epoll < 0)
            throw Libc.Error(Libc.Errno);
        _wake = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (_wake < 0)
        {
            var errno = Libc.Errno;
            Libc.close(_epoll);
            throw Libc.Error(errno);
        }

        Add(_wake, Libc.EPOLLIN, WakeToken);
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.UnsafeStart();
    }

    /// <summary>The engine a new socket goes to: round robin over the process's <see cref="Count"/> engines.</summary>
    public static EpollEngine Next()
    {
        var engines = Volatile.Read(ref s_engines) ?? Create();
        return engines.Length == 1 ? engines[0] : engines[(int)((uint)Interlocked.Increment(ref s_next) % (uint)engines.Length)];
    }

    private static EpollEngine[] Create()
    {
        lock (s_gate)
        {
            if (s_engines is { } existing)
                return existing;
            var engines = new EpollEngine[Count];
            for (var i = 0; i < engines.Length; i++)
                engines[i] = new EpollEngine($"weft-epoll-{i}");
            Volatile.Write(ref s_engines, engines);
            return engines;
        }
    }

    /// <summary>The process's engines that exist so far (none before the first socket).</summary>
    public static IReadOnlyList<EpollEngine> All => Volatile.Read(ref s_engines) ?? [];

    /// <summary>
    /// Bytes the engine's thread had allocated when it last finished a batch, and whether it is waiting for events now
    /// (then nothing it did since is missing from the figure). One read of the thread's allocation counter per wake-up:
    /// what the fast path allocates on this thread, without what the rest of the process does beside it.
    /// </summary>
    public (long Bytes, bool Waiting) AllocatedBytes
    {
        get
        {
            // Waiting first: it is set after the figure, so when it reads true the figure read next is at least that batch's.
            var waiting = _waiting;
            return (Volatile.Read(ref _allocated), waiting);
        }
    }

    /// <summary>Whether the caller runs on this engine's thread (a completion in progress).</summary>
    public bool IsEngineThread => Thread.CurrentThread == _thread;

    /// <summary>Whether the caller runs on any engine's thread (so <see cref="DeferToBatchEnd"/> would take work).</summary>
    public static bool OnEngineThread => t_current is not null;

    /// <summary>
    /// When the caller runs on an engine's thread: queues <paramref name="work"/> to run once that engine has dispatched
    /// every event of the batch in progress (before it waits again), and returns true. Otherwise returns false and the
    /// caller does the work itself. This is how writes made by several completions of one batch (for instance the
    /// frames of many requests bound for one HTTP/2 connection) leave in one send.
    /// </summary>
    public static bool DeferToBatchEnd(IBatchEndWork work)
    {
        if (t_current is not { } engine)
            return false;
        engine._batchEnd.Add(work);
        return true;
    }

    /// <summary>Registers <paramref name="fd"/> for edge-triggered in/out/peer-closed events delivered to <paramref name="socket"/>; returns its token.</summary>
    internal ulong Register(EpollSocket socket, int fd)
    {
        ulong token;
        int slot;
        lock (_gate)
        {
            if (!_free.TryPop(out slot))
            {
                if (_used == _slots.Length)
                {
                    var bigger = new EpollSocket?[_slots.Length * 2];
                    _slots.CopyTo(bigger, 0);
                    Volatile.Write(ref _slots, bigger);
                }

                slot = _used++;
            }

            token = (ulong)++_generation << 32 | (uint)slot;
            socket.Token = token;
            Volatile.Write(ref _slots[slot], socket);
        }

        try
        {
            Add(fd, Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP | Libc.EPOLLET, token);
        }
        catch
        {
            Unregister(token);
            throw;
        }

        return token;
    }

    /// <summary>Frees the socket's slot; events still in flight for it find another token there and are dropped. (Closing the fd leaves the epoll set.)</summary>
    internal void Unregister(ulong token)
    {
        var slot = (int)(uint)token;
        lock (_gate)
        {
            if (_slots[slot] is { } socket && socket.Token == token)
            {
                Volatile.Write(ref _slots[slot], null);
                _free.Push(slot);
            }
        }
    }

    private void Add(int fd, uint events, ulong token)
    {
        var ev = stackalloc byte[16];
        Unsafe.WriteUnaligned(ev, events);
        Unsafe.WriteUnaligned(ev + Libc.EpollDataOffset, token);
        if (Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, fd, ev) != 0)
            throw Libc.Error(Libc.Errno);
    }

    private void Run()
    {
        var size = Libc.EpollEventSize;
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * size));
        t_current = this;
        var stampEvents = EngineClock.Enabled;
        try
        {
            while (!_stopping)
            {
                Volatile.Write(ref _allocated, GC.GetAllocatedBytesForCurrentThread());
                _waiting = true;
                var n = Libc.epoll_wait(_epoll, events, MaxEvents, -1);
                _waiting = false;
                if (n < 0)
                {
                    if (Libc.Errno == Libc.EINTR)
                        continue;
                    throw Libc.Error(Libc.Errno);
                }

                for (var i = 0; i < n; i++)
                {
                    var e = events + i * size;
                    var token = Unsafe.ReadUnaligned<ulong>(e + Libc.EpollDataOffset);
                    if (token == WakeToken)
                    {
                        ulong value;
                        Libc.read(_wake, &value, sizeof(ulong));
                        continue;
                    }

                    var slots = Volatile.Read(ref _slots);
                    var slot = (int)(uint)token;
                    if ((uint)slot < (uint)slots.Length && Volatile.Read(ref slots[slot]) is { } socket && socket.Token == token)
                    {
                        if (stampEvents)
                            EngineClock.EventStarting();
                        socket.OnEvents(Unsafe.ReadUnaligned<uint>(e));
                    }
                }

                // Work may queue more work (by index: the list can grow while it runs).
                for (var i = 0; i < _batchEnd.Count; i++)
                    _batchEnd[i].OnBatchEnd();
                _batchEnd.Clear();
            }
        }
        finally
        {
            NativeMemory.Free(events);
            Libc.close(_wake);
            Libc.close(_epoll);
        }
    }

    /// <summary>Stops the thread (tests only: the shared engines live as long as the process).</summary>
    public void Dispose()
    {
        _stopping = true;
        ulong one = 1;
        Libc.write(_wake, &one, sizeof(ulong));
        if (!IsEngineThread)
            _thread.Join();
    }
}

/// <summary>Work queued with <see cref="EpollEngine.DeferToBatchEnd"/>: runs on the engine's thread, must not block or throw.</summary>
internal interface IBatchEndWork
{
    void OnBatchEnd();
}
