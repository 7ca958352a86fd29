using System.Buffers.Binary;
using System.Net.Sockets;
using Weft.Proxy.FastPath;

namespace Weft.Proxy.Http2;

/// <summary>
/// A client HTTP/2 connection (RFC 9113) over an already-secured <see cref="Stream"/>: the mTLS stream the transport
/// authenticated (so every identity check stays the transport's), or a plain one for h2c. Built for the sidecar hop:
/// the read loop runs on the socket's completions and hands heads and DATA to the waiting exchange inline; writes are
/// frames appended to one buffer under the connection's lock and flushed by whoever finds no flush running, one write
/// per flush. One lock guards all state; nothing is completed while it is held.
/// </summary>
internal sealed partial class Http2ClientConnection : Http2Connection
{
    /// <summary>Our SETTINGS_INITIAL_WINDOW_SIZE and connection window (both ways of the flow-control sum).</summary>
    public const int DefaultWindow = 16 * 1024 * 1024;

    private const int MaxFrameSize = 16 * 1024;
    private const int MaxHeaderBlock = 256 * 1024;

    private readonly Stream _transport;
    private readonly Dictionary<int, Http2ClientStream> _streams = [];
    private readonly Stack<Http2ClientStream> _free = new();
    private readonly HPackDecoder _decoder = new();
    private readonly TaskCompletionSource _settingsReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<SettingId, uint> _onSetting;
    private readonly int _window;
    private readonly int _creditThreshold;
    private readonly TimeProvider _time;

    // Peer's settings and our send windows.
    private int _maxConcurrent = 100;

    // Receive side.
    private long _connectionReceiveWindow;
    private int _connectionCredit;

    // Streams.
    private int _nextStreamId = 1;
    private int _open;
    private int _goAwayLastId = int.MaxValue;
    private bool _goingAway;
    private bool _retired;
    private bool _closeAfterFlush;

    /// <summary>A connection error's GOAWAY waits for the running write: the flush writes it, then closes the transport.</summary>
    private bool _closeAfterFailedFlush;
    private ITimer? _graceTimer;
    private Exception? _failure;
    private long _idleSince;
    private List<Http2ClientStream>? _windowWaiters;

    private Http2ClientConnection(Stream transport, TimeProvider time, int window)
        : base(new Http2HeaderBlock(0, MaxHeaderBlock, Http2ErrorCode.EnhanceYourCalm, "a header block over 256 KiB"))
    {
        _transport = transport;
        _time = time;
        _window = window;
        _creditThreshold = Math.Max(window / 16, 16 * 1024);
        _connectionReceiveWindow = window;
        _onSetting = OnSetting;
        CreatedAt = time.GetTimestamp();
        _idleSince = CreatedAt;
    }

    /// <summary>When the connection was opened (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long CreatedAt { get; }

    /// <summary>Told when a stream slot frees up or the connection stops taking streams; runs outside the lock.</summary>
    public Action<Http2ClientConnection>? Changed { get; set; }

    /// <summary>
    /// Sends the preface, our SETTINGS and the connection window, starts the read loop, and returns once the server's
    /// SETTINGS arrived (so its MAX_CONCURRENT_STREAMS bounds the first streams), then keeps it alive with
    /// <paramref name="keepAlive"/> (see <see cref="Http2KeepAlive"/>; default: off). Takes ownership of <paramref name="transport"/>.
    /// </summary>
    public static async Task<Http2ClientConnection> OpenAsync(Stream transport, Socket? socket, TimeProvider time, CancellationToken cancellationToken, int window = DefaultWindow,
        Http2KeepAlive keepAlive = default)
    {
        var connection = new Http2ClientConnection(transport, time, window);
        // The read loop runs on the socket's completions: what it hands on is short and never blocks.
        if (socket is not null)
            InlineCompletions.Set(socket, true);
        lock (connection._sync)
        {
            var to = connection._writes.Reserve(Frames.ClientPreface.Length + FrameHeader.Size + 4 * 6 + FrameHeader.Size + 4);
            Frames.ClientPreface.CopyTo(to);
            var n = Frames.ClientPreface.Length;
            n += Frames.WriteSettings(to[n..], [(SettingId.EnablePush, 0u), (SettingId.InitialWindowSize, (uint)window), (SettingId.MaxHeaderListSize, 64u * 1024), (OwnClientMarker.Setting, OwnClientMarker.Value)]);
            if (window > 65535)
                n += Frames.WriteWindowUpdate(to[n..], 0, window - 65535);
            connection._writes.Length += n;
        }

        connection.StartFlush();
        _ = connection.ReadLoopAsync();
        try
        {
            await connection._settingsReceived.Task.WaitAsync(cancellationToken);
        }
        catch
        {
            connection.Close();
            throw;
        }

        connection.StartKeepAlive(keepAlive, time);
        return connection;
    }

    /// <summary>Whether new streams may start here (not failed, no GOAWAY, ids left).</summary>
    public bool IsUsable
    {
        get
        {
            lock (_sync)
                return _failure is null && !_goingAway;
        }
    }

    /// <summary>Streams held by exchanges now.</summary>
    public int OpenStreams
    {
        get
        {
            lock (_sync)
                return _open;
        }
    }

    /// <summary>Since when no stream is held (meaningful when <see cref="OpenStreams"/> is 0).</summary>
    public long IdleSince
    {
        get
        {
            lock (_sync)
                return _idleSince;
        }
    }

    /// <summary>The server's MAX_CONCURRENT_STREAMS as last announced.</summary>
    public int MaxConcurrentStreams
    {
        get
        {
            lock (_sync)
                return _maxConcurrent;
        }
    }

    /// <summary>
    /// Takes a stream slot if the connection is usable and below the server's MAX_CONCURRENT_STREAMS. The stream is
    /// tied to <paramref name="token"/> until released.
    /// </summary>
    public bool TryOpenStream(CancellationToken token, out Http2ClientStream stream)
    {
        lock (_sync)
        {
            if (_failure is not null || _goingAway || _open >= _maxConcurrent || _nextStreamId > int.MaxValue - 2 * (_open + 1))
            {
                stream = null!;
                return false;
            }

            _open++;
            stream = _free.TryPop(out var reused) ? reused : new Http2ClientStream(this);
        }

        stream.Open(token);
        return true;
    }

    internal void SendHeaders(Http2ClientStream stream, ReadOnlySpan<byte> block, long contentLength)
    {
        lock (_sync)
        {
            if (stream.Error is { } error)
                throw error;
            if (_failure is not null || _goingAway)
                throw new Http2NotProcessedException("the connection stopped taking streams before this request was sent", _failure);
            var id = _nextStreamId;
            _nextStreamId += 2;
            stream.Id = id;
            stream.SendWindow = _peerInitialWindow;
            stream.ReceiveWindow = _window;
            stream.RequestBodyLeft = contentLength;
            stream.RequestEnded = contentLength == 0;
            _streams[id] = stream;

            _writes.AddHeaderBlock(id, block, endStream: contentLength == 0, _peerMaxFrameSize);
        }

        StartFlush();
    }

    internal async ValueTask WriteData(Http2ClientStream stream, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            ValueTask wait;
            lock (_sync)
            {
                if (stream.Error is { } error)
                    throw error;
                if (_failure is { } failure)
                    throw new Http2StreamException(Http2ErrorCode.InternalError, "the connection was lost while sending the request body", failure);
                if (stream.RequestEnded || data.Length > stream.RequestBodyLeft)
                    throw new InvalidOperationException("more request body than its announced length");
                var allowed = TakeSendWindowLocked(data.Length, stream.SendWindow);
                if (allowed > 0)
                {
                    stream.SendWindow -= allowed;
                    stream.RequestBodyLeft -= allowed;
                    var end = stream.RequestBodyLeft == 0;
                    stream.RequestEnded = end;
                    var to = _writes.Reserve(FrameHeader.Size + allowed);
                    new FrameHeader(allowed, FrameType.Data, end ? FrameFlags.EndStream : (byte)0, stream.Id).Write(to);
                    data.Span[..allowed].CopyTo(to[FrameHeader.Size..]);
                    _writes.Length += FrameHeader.Size + allowed;
                    data = data[allowed..];
                    wait = default;
                }
                else
                {
                    stream.WindowWaiting = true;
                    (_windowWaiters ??= []).Add(stream);
                    wait = stream.WindowWait();
                }
            }

            if (!wait.IsCompleted || data.Length > 0)
                StartFlush();
            await wait;
        }

        StartFlush();
    }

    internal ValueTask<int> WaitHead(Http2ClientStream stream)
    {
        lock (_sync)
        {
            if (stream.HeadReceived)
                return new ValueTask<int>(stream.Status);
            if (stream.Error is { } error)
                return ValueTask.FromException<int>(error);
            stream.WaitingForHead = true;
            stream.ReadWaiting = true;
            return stream.ReadWait();
        }
    }

    internal ValueTask<int> Read(Http2ClientStream stream, Memory<byte> buffer)
    {
        bool flush;
        lock (_sync)
        {
            if (!stream.HeadReceived)
                return ValueTask.FromException<int>(new InvalidOperationException("the response head has not arrived"));
            // A reset (or a cancelled exchange) ends the stream too, but must never read as the body's end.
            if (stream.Error is { } failed)
                return ValueTask.FromException<int>(failed);
            if (stream.Buffered > 0 && buffer.Length > 0)
            {
                var n = stream.TakeBuffered(buffer.Span);
                flush = CreditLocked(stream, n);
                if (!flush)
                    return new ValueTask<int>(n);
                StartFlushLocked(out var start);
                if (start)
                    _ = FlushAsync();
                return new ValueTask<int>(n);
            }

            if (stream.ResponseEnded || buffer.Length == 0)
                return new ValueTask<int>(0);
            stream.ReadInto = buffer;
            stream.ReadWaiting = true;
            return stream.ReadWait();
        }
    }

    internal void Cancel(Http2ClientStream stream, Exception error)
    {
        lock (_sync)
        {
            if (stream.Released || stream.Error is not null)
                return;
            stream.Error = error;
            ResetLocked(stream, Http2ErrorCode.Cancel);
        }

        StartFlush();
        Wake(stream, error);
    }

    internal void Release(Http2ClientStream stream)
    {
        bool close, retired;
        lock (_sync)
        {
            if (stream.Released)
                return;
            stream.Released = true;
            if (stream.Error is null)
                ResetLocked(stream, Http2ErrorCode.Cancel);
            if (stream.Id != 0)
                _streams.Remove(stream.Id);
            // What the exchange never read still counts against the connection's window: give it back, now if it is
            // enough, or the connection's window could stay shut with nobody left to read.
            _connectionCredit += stream.Buffered;
            CreditConnectionLocked();
            _windowWaiters?.Remove(stream);
            stream.ResetForReuse();
            if (_free.Count < 256)
                _free.Push(stream);
            _open--;
            if (_open == 0)
                _idleSince = _time.GetTimestamp();
            close = _open == 0 && _goingAway && _failure is null;
            retired = _retired;
        }

        StartFlush();
        if (close && retired)
            CloseWithGoAway();
        else if (close)
            Close();
        else
            Changed?.Invoke(this);
    }

    /// <summary>Sends RST_STREAM unless the stream is done both ways or never sent; it leaves the id map.</summary>
    private void ResetLocked(Http2ClientStream stream, Http2ErrorCode code)
    {
        if (stream.Id == 0 || _failure is not null)
            return;
        if (!(stream.RequestEnded && stream.ResponseEnded))
        {
            var to = _writes.Reserve(FrameHeader.Size + 4);
            _writes.Length += Frames.WriteRstStream(to, stream.Id, code);
        }

        stream.RequestEnded = stream.ResponseEnded = true;
        _streams.Remove(stream.Id);
    }

    /// <summary>Completes the stream's pending waits with <paramref name="error"/> (null: success for window waits only).</summary>
    private static void Wake(Http2ClientStream stream, Exception error)
    {
        bool read, window;
        lock (stream.Connection._sync)
        {
            read = stream.ReadWaiting;
            window = stream.WindowWaiting;
            stream.ReadWaiting = stream.WindowWaiting = false;
            stream.WaitingForHead = false;
            stream.ReadInto = default;
            stream.Connection._windowWaiters?.Remove(stream);
        }

        if (read)
            stream.FailRead(error);
        if (window)
            stream.CompleteWindow(error);
    }

    /// <summary>Credits consumed bytes; true when a WINDOW_UPDATE was queued.</summary>
    private bool CreditLocked(Http2ClientStream stream, int n)
    {
        var queued = false;
        _connectionCredit += n;
        if (_connectionCredit >= _creditThreshold && _failure is null)
        {
            var to = _writes.Reserve(FrameHeader.Size + 4);
            _writes.Length += Frames.WriteWindowUpdate(to, 0, _connectionCredit);
            _connectionReceiveWindow += _connectionCredit;
            _connectionCredit = 0;
            queued = true;
        }

        if (!stream.ResponseEnded && stream.Id != 0)
        {
            stream.StreamCredit += n;
            if (stream.StreamCredit >= _creditThreshold && _failure is null)
            {
                var to = _writes.Reserve(FrameHeader.Size + 4);
                _writes.Length += Frames.WriteWindowUpdate(to, stream.Id, stream.StreamCredit);
                stream.ReceiveWindow += stream.StreamCredit;
                stream.StreamCredit = 0;
                queued = true;
            }
        }

        return queued;
    }

    private protected override bool FailedLocked => _failure is not null;

    /// <summary>The flush a failure's GOAWAY waited for is over: its grace timer is not needed, the transport closes.</summary>
    private void CloseAfterFailedFlush()
    {
        lock (_sync)
            _graceTimer?.Dispose();
        CloseTransport();
    }

    private protected override void KeepAliveFailed(Http2KeepAlive settings) => Fail(new IOException(settings.DeadMessage("server")), Http2ErrorCode.NoError);

    /// <summary>Writes what is pending, then what was appended meanwhile, until nothing is; one write per round.</summary>
    private protected override async ValueTask FlushAsync()
    {
        while (true)
        {
            ReadOnlyMemory<byte> writing;
            var closeTransport = false;
            lock (_sync)
            {
                if (_failure is not null)
                {
                    // A failed connection writes only the GOAWAY its failure queued behind this flush, then closes.
                    if (_closeAfterFailedFlush && _writes.Length > 0)
                    {
                        writing = _writes.Take();
                    }
                    else
                    {
                        _writes.Flushing = false;
                        _writes.Length = 0;
                        closeTransport = _closeAfterFailedFlush;
                        writing = default;
                    }
                }
                else if (_writes.Length == 0)
                {
                    _writes.Flushing = false;
                    // A retired connection's GOAWAY is written: it closes now.
                    if (!_closeAfterFlush)
                        return;
                    writing = default;
                }
                else
                {
                    writing = _writes.Take();
                }
            }

            if (writing.IsEmpty)
            {
                if (closeTransport)
                    CloseAfterFailedFlush();
                else if (_failure is null)
                {
                    Close();
                }

                return;
            }

            try
            {
                await _transport.WriteAsync(writing);
            }
            catch (Exception e)
            {
                lock (_sync)
                    _writes.Flushing = false;
                Fail(new IOException("writing to the server failed", e), Http2ErrorCode.NoError);
                // Already failed (its GOAWAY was waiting for this write): nothing more can be written.
                CloseAfterFailedFlush();
                return;
            }
        }
    }
}
