using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Weft.Proxy.Http2;

/// <summary>
/// A server HTTP/2 connection (RFC 9113): our own client's connections on the inbound listener (see
/// <see cref="OwnClientMarker"/>) and the app's h2c on the outbound and upstream listeners (gRPC included: trailers both
/// ways, full-duplex streams; no extended CONNECT, so no WebSockets over HTTP/2). Every stream runs the same <see cref="RequestDelegate"/> Kestrel runs, on a
/// <see cref="DefaultHttpContext"/> over the stream's features with the connection's features behind them (the
/// listener, the TLS client certificate), so intentions and everything else stay the pipeline's. The read loop runs
/// on the connection's pipe and starts each stream's handler inline; writes are frames appended to one buffer under
/// the connection's lock and flushed by whoever finds no flush running. Nothing is completed while the lock is held.
/// </summary>
internal sealed partial class Http2ServerConnection : Http2Connection
{
    public const int MaxConcurrentStreams = 100;

    /// <summary>Our SETTINGS_INITIAL_WINDOW_SIZE: what one request body may have in flight before the app reads it.</summary>
    public const int StreamWindow = 1024 * 1024;

    /// <summary>The connection's receive window.</summary>
    public const int ConnectionWindow = 16 * 1024 * 1024;

    /// <summary>How long a connection may stay without streams before it is closed (GOAWAY); Kestrel's keep-alive default.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(130);

    private const int MaxFrameSize = 16 * 1024;
    private const int MaxHeaderBlock = 64 * 1024;

    private readonly ConnectionContext _connection;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly Func<HttpContext, ValueTask> _application;
    private readonly Dictionary<int, Http2ServerStream> _streams = [];
    private readonly Stack<Http2ServerStream> _free = new();
    private readonly HPackDecoder _decoder = new(maxHeaderListSize: MaxHeaderBlock);
    private readonly TaskCompletionSource _handlersDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<SettingId, uint> _onSetting;
    private readonly TimeProvider _time;
    private readonly Http2KeepAlive _keepAliveSettings;
    private long _idleSince;

    // Peer's settings and our send windows.

    // Receive side.
    private long _connectionReceiveWindow = ConnectionWindow;
    private int _connectionCredit;

    // Streams.
    private int _lastStreamId;
    private int _running;
    private bool _goingAway;
    private bool _stopping;
    private bool _failed;

    // Writes.
    private TaskCompletionSource? _flushed;
    private byte[] _headerScratch = new byte[4096];
    private byte[] _valueScratch = new byte[256];

    public Http2ServerConnection(ConnectionContext connection, RequestDelegate application, TimeProvider time, Http2KeepAlive keepAlive = default)
        : this(connection, http => new ValueTask(application(http)), time, keepAlive)
    {
    }

    /// <summary>
    /// With a handler that returns a <see cref="ValueTask"/>: the sidecar's (<c>RequestPipeline.HandleAsync</c>),
    /// pooled, so that a request served here allocates no <see cref="Task"/> for it.
    /// </summary>
    public Http2ServerConnection(ConnectionContext connection, Func<HttpContext, ValueTask> application, TimeProvider time, Http2KeepAlive keepAlive = default)
        : base(new Http2HeaderBlock(4096, MaxHeaderBlock, Http2ErrorCode.ProtocolError, "a header block over our limit"))
    {
        _connection = connection;
        _time = time;
        _keepAliveSettings = keepAlive;
        _idleSince = time.GetTimestamp();
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        _application = application;
        _onSetting = OnSetting;
        ConnectionFeature = new HttpConnectionFeature
        {
            ConnectionId = connection.ConnectionId,
            RemoteIpAddress = (connection.RemoteEndPoint as System.Net.IPEndPoint)?.Address,
            RemotePort = (connection.RemoteEndPoint as System.Net.IPEndPoint)?.Port ?? 0,
            LocalIpAddress = (connection.LocalEndPoint as System.Net.IPEndPoint)?.Address,
            LocalPort = (connection.LocalEndPoint as System.Net.IPEndPoint)?.Port ?? 0,
        };
    }

    internal IFeatureCollection ConnectionFeatures => _connection.Features;

    internal IHttpConnectionFeature ConnectionFeature { get; }

    /// <summary>
    /// Serves the connection until the client closes it, a protocol error, or a drain that finished its streams.
    /// The preface must still be unread in the transport (the listener only peeked at it).
    /// </summary>
    public async Task ServeAsync()
    {
        lock (_sync)
        {
            var to = _writes.Reserve(FrameHeader.Size + 4 * 6 + FrameHeader.Size + 4);
            var n = Frames.WriteSettings(to, [
                (SettingId.MaxConcurrentStreams, MaxConcurrentStreams), (SettingId.InitialWindowSize, StreamWindow),
                (SettingId.MaxHeaderListSize, MaxHeaderBlock), (SettingId.EnablePush, 0u)]);
            n += Frames.WriteWindowUpdate(to[n..], 0, ConnectionWindow - 65535);
            _writes.Length += n;
            _settingsAckDue = true;
        }

        StartFlush();
        var lifetime = _connection.Features.Get<IConnectionLifetimeNotificationFeature>();
        using var drain = lifetime?.ConnectionClosedRequested.UnsafeRegister(static s => ((Http2ServerConnection)s!).Drain(), this);
        // One timer: first when our SETTINGS must have been acknowledged, then every quarter of the idle timeout.
        var check = IdleTimeout / 4;
        using var timer = _time.CreateTimer(static s => ((Http2ServerConnection)s!).OnTimer(), this, SettingsTimeout, check);
        StartKeepAlive(_keepAliveSettings, _time);
        try
        {
            await ReadLoopAsync();
        }
        finally
        {
            StopKeepAlive();
            AbortAll();
            await _handlersDone.Task;
            StartFlush();
            Task flushed;
            lock (_sync)
                flushed = FlushedLocked();
            await flushed;
        }
    }

    /// <summary>A connection without streams for <see cref="IdleTimeout"/> is drained (GOAWAY, then closed).</summary>
    private void CloseIfIdle()
    {
        bool idle;
        lock (_sync)
            idle = _streams.Count == 0 && _running == 0 && _time.GetElapsedTime(_idleSince) >= IdleTimeout;
        if (idle)
            Drain();
    }

    /// <summary>GOAWAY with the last stream id: streams already started finish, then the connection closes.</summary>
    public void Drain()
    {
        bool stop;
        lock (_sync)
        {
            if (_goingAway || _failed)
                return;
            _goingAway = true;
            _writes.Length += Frames.WriteGoAway(_writes.Reserve(FrameHeader.Size + 8), _lastStreamId, Http2ErrorCode.NoError);
            stop = _streams.Count == 0 && _running == 0;
        }

        StartFlush();
        if (stop)
            Stop();
    }

    private void Stop()
    {
        lock (_sync)
            _stopping = true;
        _input.CancelPendingRead();
    }

    /// <summary>A connection error: GOAWAY with <paramref name="code"/>, every stream aborted, the read loop ends.</summary>
    private void FailLocked(Http2ErrorCode code)
    {
        if (_failed)
            return;
        _writes.Length += Frames.WriteGoAway(_writes.Reserve(FrameHeader.Size + 8), _lastStreamId, code);
        _goingAway = true;
        _stopping = true;
    }

    /// <summary>Aborts every stream still open (the connection is gone or failed) and lets the handlers run out.</summary>
    private void AbortAll()
    {
        List<Http2ServerStream> aborted;
        bool done;
        lock (_sync)
        {
            _stopping = true;
            _goingAway = true;
            aborted = [.. _streams.Values];
            foreach (var stream in aborted)
                stream.RequestEnded = stream.ResponseEnded = stream.Reset = true;
            _streams.Clear();
            done = _running == 0;
        }

        foreach (var stream in aborted)
            stream.Abort(new ConnectionAbortedException("the HTTP/2 connection closed"));
        if (done)
            _handlersDone.TrySetResult();
    }

    internal Http2ServerStream RentStream()
    {
        lock (_sync)
            return _free.TryPop(out var stream) ? stream : new Http2ServerStream(this);
    }

    /// <summary>The handler returned and the response ended: the stream leaves the connection and goes back to the pool.</summary>
    internal void StreamFinished(Http2ServerStream stream)
    {
        bool stop, done;
        lock (_sync)
        {
            if (!stream.ResponseEnded)
                ResetLocked(stream, Http2ErrorCode.InternalError);
            else if (!stream.RequestEnded && !_failed)
            {
                // The response is whole while the request body is still coming: tell the client to stop sending (8.1).
                WriteResetLocked(stream.Id, Http2ErrorCode.NoError);
                stream.RequestEnded = true;
            }

            _connectionCredit += stream.DropBuffered();
            CreditConnectionLocked();
            _streams.Remove(stream.Id);
            _running--;
            if (_running == 0)
                _idleSince = _time.GetTimestamp();
            stop = _goingAway && _streams.Count == 0 && _running == 0 && !_stopping;
            done = _stopping && _running == 0;
        }

        stream.Recycle();
        lock (_sync)
        {
            if (_free.Count < MaxConcurrentStreams)
                _free.Push(stream);
        }

        StartFlush();
        if (stop)
            Stop();
        if (done)
            _handlersDone.TrySetResult();
    }

    /// <summary>RST_STREAM from our side: the stream ends both ways and its handler sees RequestAborted.</summary>
    internal void ResetStream(Http2ServerStream stream, Http2ErrorCode code)
    {
        lock (_sync)
        {
            if (stream.Reset || (stream.RequestEnded && stream.ResponseEnded))
                return;
            ResetLocked(stream, code);
        }

        StartFlush();
        stream.Abort(new ConnectionAbortedException($"the stream was reset ({code})"));
    }

    private void ResetLocked(Http2ServerStream stream, Http2ErrorCode code)
    {
        if (!_failed && !(stream.RequestEnded && stream.ResponseEnded))
            WriteResetLocked(stream.Id, code);
        stream.RequestEnded = stream.ResponseEnded = stream.Reset = true;
        _streams.Remove(stream.Id);
    }

    /// <summary>
    /// Sends the response head if not yet sent, then <paramref name="data"/> as DATA within the peer's windows, then
    /// when <paramref name="end"/> the stream's end: END_STREAM on the last frame, or the response trailers as a last
    /// HEADERS frame carrying it. After a reset the bytes go nowhere.
    /// </summary>
    internal async ValueTask SendAsync(Http2ServerStream stream, ReadOnlyMemory<byte> data, bool end)
    {
        while (true)
        {
            Task? wait = null;
            lock (_sync)
            {
                if (stream.ResponseEnded || _failed)
                    return;
                var trailers = end ? stream.TakeResponseTrailers() : null;
                var endOnData = end && trailers is null;
                if (!stream.HeadersSent)
                {
                    var headOnly = endOnData && data.IsEmpty;
                    WriteHeadersLocked(stream, headOnly);
                    stream.HeadersSent = true;
                    if (headOnly)
                    {
                        EndResponseLocked(stream);
                        break;
                    }
                }

                while (!data.IsEmpty)
                {
                    var allowed = TakeSendWindowLocked(data.Length, stream.SendWindow);
                    if (allowed <= 0)
                        break;
                    stream.SendWindow -= allowed;
                    var last = endOnData && allowed == data.Length;
                    var to = _writes.Reserve(FrameHeader.Size + allowed);
                    new FrameHeader(allowed, FrameType.Data, last ? FrameFlags.EndStream : (byte)0, stream.Id).Write(to);
                    data.Span[..allowed].CopyTo(to[FrameHeader.Size..]);
                    _writes.Length += FrameHeader.Size + allowed;
                    data = data[allowed..];
                    if (last)
                        EndResponseLocked(stream);
                }

                if (data.IsEmpty)
                {
                    if (end && !stream.ResponseEnded)
                    {
                        if (trailers is not null)
                        {
                            WriteTrailersLocked(stream, trailers);
                        }
                        else
                        {
                            new FrameHeader(0, FrameType.Data, FrameFlags.EndStream, stream.Id).Write(_writes.Reserve(FrameHeader.Size));
                            _writes.Length += FrameHeader.Size;
                        }

                        EndResponseLocked(stream);
                    }

                    break;
                }

                wait = stream.WaitForWindowLocked();
            }

            StartFlush();
            await wait;
        }

        StartFlush();
        if (end)
            return; // nothing follows on this stream to hold back
        Task flush;
        lock (_sync)
            flush = FlushedLocked();

        // Back-pressure: a writer does not run ahead of the socket by more than what one flush holds.
        await flush;
    }

    /// <summary>
    /// END_STREAM is queued: a stream whose request also ended is closed (RFC 9113 5.1) and stops counting against
    /// MAX_CONCURRENT_STREAMS now, not when its handler's last callbacks have run: the client may open the next at once.
    /// </summary>
    private void EndResponseLocked(Http2ServerStream stream)
    {
        stream.ResponseEnded = true;
        if (stream.RequestEnded)
            _streams.Remove(stream.Id);
    }

    /// <summary>Takes the stream's window waiter, if any, to be completed outside the lock.</summary>
    internal TaskCompletionSource? TakeWindowWaiter(Http2ServerStream stream)
    {
        lock (_sync)
        {
            var waiter = stream.WindowWaiter;
            stream.WindowWaiter = null;
            return waiter;
        }
    }

    /// <summary>Credits request body bytes the app consumed, queueing WINDOW_UPDATEs past the thresholds.</summary>
    internal void Consumed(Http2ServerStream stream, int n)
    {
        if (n <= 0)
            return;
        bool queued;
        lock (_sync)
        {
            stream.Buffered -= n;
            _connectionCredit += n;
            queued = CreditConnectionLocked();
            if (!stream.RequestEnded && !_failed)
            {
                stream.StreamCredit += n;
                if (stream.StreamCredit >= StreamWindow / 4)
                {
                    _writes.Length += Frames.WriteWindowUpdate(_writes.Reserve(FrameHeader.Size + 4), stream.Id, stream.StreamCredit);
                    stream.ReceiveWindow += stream.StreamCredit;
                    stream.StreamCredit = 0;
                    queued = true;
                }
            }
        }

        if (queued)
            StartFlush();
    }

    private bool CreditConnectionLocked()
    {
        if (_connectionCredit < ConnectionWindow / 16 || _failed)
            return false;
        _writes.Length += Frames.WriteWindowUpdate(_writes.Reserve(FrameHeader.Size + 4), 0, _connectionCredit);
        _connectionReceiveWindow += _connectionCredit;
        _connectionCredit = 0;
        return true;
    }

    private protected override bool FailedLocked => _failed;

    /// <summary>The client stopped answering: the connection closes, and the requests still open on it are aborted.</summary>
    private protected override void KeepAliveFailed(Http2KeepAlive settings) => _connection.Abort(new ConnectionAbortedException(settings.DeadMessage("client")));

    /// <summary>The running flush's end (completed when none runs).</summary>
    /// <remarks>Created only when someone waits: most flushes end before anyone asks.</remarks>
    private Task FlushedLocked() => FlushPendingLocked ? (_flushed ??= new TaskCompletionSource()).Task : Task.CompletedTask;

    private protected override void DeferredFlushFoundNothing()
    {
        TaskCompletionSource? done = null;
        lock (_sync)
        {
            if (!FlushPendingLocked)
                (done, _flushed) = (_flushed, null);
        }

        done?.TrySetResult();
    }

    /// <summary>Writes what is pending, then what was appended meanwhile, until nothing is; one flush per round.</summary>
    private protected override async ValueTask FlushAsync()
    {
        TaskCompletionSource? done;
        while (true)
        {
            ReadOnlyMemory<byte> writing;
            lock (_sync)
            {
                if (_writes.Length == 0 || _failed)
                {
                    _writes.Flushing = false;
                    done = _flushed;
                    _flushed = null;
                    break;
                }

                writing = _writes.Take();
            }

            try
            {
                _output.Write(writing.Span);
                var result = await _output.FlushAsync();
                if (result.IsCompleted || result.IsCanceled)
                    throw new ConnectionAbortedException("the client stopped reading");
            }
            catch (Exception)
            {
                lock (_sync)
                {
                    _writes.Flushing = false;
                    _failed = true;
                    _writes.Length = 0;
                    done = _flushed;
                    _flushed = null;
                }

                _input.CancelPendingRead();
                break;
            }
        }

        done?.TrySetResult();
    }

    private sealed class HttpConnectionFeature : IHttpConnectionFeature
    {
        public string ConnectionId { get; set; } = "";
        public System.Net.IPAddress? RemoteIpAddress { get; set; }
        public System.Net.IPAddress? LocalIpAddress { get; set; }
        public int RemotePort { get; set; }
        public int LocalPort { get; set; }
    }

    internal static StringValues Join(StringValues existing, string value) => StringValues.Concat(existing, value);
}
