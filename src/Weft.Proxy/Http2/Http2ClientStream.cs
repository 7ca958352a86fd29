using System.Buffers;
using System.Globalization;
using System.Text;
using System.Threading.Tasks.Sources;

namespace Weft.Proxy.Http2;

/// <summary>
/// One request/response exchange on an <see cref="Http2ClientConnection"/>, pooled by its connection. The caller opens
/// it with <see cref="Http2ClientConnection.TryOpenStream"/>, sends the head with <see cref="SendHeaders"/>, writes the
/// request body with <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> (END_STREAM goes on the byte that
/// completes the announced length), waits for the response head with <see cref="ReadHeadAsync"/>, reads the body with
/// <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>, and hands it back with <see cref="Release"/>. All state is
/// guarded by the connection's lock; waiters are completed outside it, inline (no thread-pool hop), so the connection's
/// read loop runs the consumer's continuation on the socket's completion.
/// </summary>
internal sealed class Http2ClientStream : Stream, IValueTaskSource<int>, IHeaderSink, IHttp2SendWindow
{
    private readonly Http2ClientConnection _connection;
    private ManualResetValueTaskSourceCore<int> _read = new() { RunContinuationsAsynchronously = false };
    private readonly WindowWaiter _window;

    // Response head: the fields' bytes one after another, and where each is.
    private byte[] _headBytes = new byte[1024];
    private int _headLength;
    private (int NameStart, int NameLength, int ValueStart, int ValueLength)[] _fields = new (int, int, int, int)[16];
    private int _fieldCount;

    // Response body received and not yet read.
    private byte[] _data = [];
    private int _dataStart;
    private int _dataEnd;

    private CancellationTokenRegistration _cancel;

    internal Http2ClientStream(Http2ClientConnection connection)
    {
        _connection = connection;
        _window = new WindowWaiter();
    }

    public Http2ClientConnection Connection => _connection;

    /// <summary>0 until the HEADERS are queued.</summary>
    public int Id { get; internal set; }

    /// <summary>The response's status, once <see cref="ReadHeadAsync"/> completed.</summary>
    public int Status { get; private set; }

    public int HeaderCount => _fieldCount;

    public ReadOnlySpan<byte> HeaderName(int index) => _headBytes.AsSpan(_fields[index].NameStart, _fields[index].NameLength);

    public ReadOnlySpan<byte> HeaderValue(int index) => _headBytes.AsSpan(_fields[index].ValueStart, _fields[index].ValueLength);

    // ---- state, guarded by the connection's lock ----
    internal bool Reserved;
    internal bool Released;
    internal bool RequestEnded;
    internal bool HeadReceived;
    internal bool ResponseEnded;
    internal bool InTrailers;
    internal Exception? Error;

    /// <summary>
    /// Why the exchange failed, if it has so far (read without the connection's lock: a failure set after the read is
    /// seen by the next read of the body). Frames that came in the same read as the head have been applied by the time
    /// its waiter runs, so a response malformed within that read (a body past its content-length) shows here at once.
    /// </summary>
    public Exception? Failure => Volatile.Read(ref Error);

    /// <summary>What made the response head (or trailers) malformed (RFC 9113 8.1.1), null while it is well-formed.</summary>
    internal string? Malformed;

    /// <summary>The response's content-length (-1: none), and the DATA bytes received so far (8.1.1).</summary>
    internal long ContentLength = -1;
    internal long Received;

    /// <summary>A HEAD request: its response's content-length describes no body.</summary>
    internal bool HeadRequest;

    /// <summary>What the server may still send on this stream before our next WINDOW_UPDATE for it.</summary>
    internal long ReceiveWindow;
    private bool _regularSeen;
    public long SendWindow { get; set; }
    internal long RequestBodyLeft;
    internal int StreamCredit;
    internal bool ReadWaiting;
    internal bool WaitingForHead;
    internal Memory<byte> ReadInto;
    internal bool WindowWaiting;

    /// <summary>Ties the exchange's cancellation to this stream: cancelling fails its waits and resets it.</summary>
    internal void Open(CancellationToken token)
    {
        Reserved = true;
        if (token.CanBeCanceled)
            _cancel = token.UnsafeRegister(static s => ((Http2ClientStream)s!).Cancel(), this);
    }

    /// <summary>Queues the request head; <paramref name="contentLength"/> 0 ends the stream with it.</summary>
    /// <param name="headerBlock">The request head, HPACK-encoded.</param>
    /// <param name="contentLength">The request body's length.</param>
    /// <param name="headRequest">A HEAD request: the response's content-length is not checked against its DATA.</param>
    public void SendHeaders(ReadOnlySpan<byte> headerBlock, long contentLength, bool headRequest = false)
    {
        HeadRequest = headRequest;
        _connection.SendHeaders(this, headerBlock, contentLength);
    }

    /// <summary>Waits for the final response head (1xx heads are skipped); gives its status.</summary>
    public ValueTask<int> ReadHeadAsync() => _connection.WaitHead(this);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _connection.Read(this, buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _connection.WriteData(this, buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Ends the exchange now: RST_STREAM(CANCEL) unless both sides are done; pending waits fail. The stream stays held.</summary>
    public void Cancel() => _connection.Cancel(this, new OperationCanceledException("the exchange was cancelled"));

    /// <summary>Gives the stream back: reset first if not finished both ways; the object is reused afterwards.</summary>
    public void Release()
    {
        // Waits for a running cancellation callback, so it cannot touch the stream once it serves another exchange.
        _cancel.Dispose();
        _cancel = default;
        _connection.Release(this);
    }

    // ---- called by the connection under its lock ----

    internal void ResetForReuse()
    {
        Id = 0;
        Status = 0;
        _headLength = 0;
        _fieldCount = 0;
        _dataStart = _dataEnd = 0;
        if (_data.Length > 64 * 1024)
            _data = [];
        Reserved = Released = RequestEnded = HeadReceived = ResponseEnded = InTrailers = HeadRequest = _regularSeen = false;
        Malformed = null;
        ContentLength = -1;
        Received = 0;
        ReceiveWindow = 0;
        Error = null;
        SendWindow = 0;
        RequestBodyLeft = 0;
        StreamCredit = 0;
        ReadWaiting = WaitingForHead = WindowWaiting = false;
        ReadInto = default;
    }

    /// <summary>
    /// Under the lock: what is wrong with the body's length against the response's content-length so far (8.1.1;
    /// <paramref name="end"/>: the stream ended), null when nothing is (or the length describes no body: HEAD, 304).
    /// </summary>
    internal string? BodyLengthError(bool end) =>
        ContentLength < 0 || HeadRequest || Status == 304 ? null
        : Received > ContentLength ? $"more DATA than its content-length of {ContentLength}"
        : end && Received < ContentLength ? $"the response ended after {Received} bytes of its content-length of {ContentLength}"
        : null;

    /// <summary>Under the lock: counts <paramref name="length"/> bytes of DATA against the content-length; what is wrong, or null.</summary>
    internal string? CountBody(int length, bool end)
    {
        Received += length;
        return BodyLengthError(end);
    }

    internal int Buffered => _dataEnd - _dataStart;

    internal int TakeBuffered(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _dataEnd - _dataStart);
        _data.AsSpan(_dataStart, n).CopyTo(destination);
        _dataStart += n;
        if (_dataStart == _dataEnd)
            _dataStart = _dataEnd = 0;
        return n;
    }

    internal void Append(ReadOnlySpan<byte> data)
    {
        if (_data.Length - _dataEnd < data.Length)
        {
            var live = _dataEnd - _dataStart;
            if (_data.Length - live >= data.Length && _dataStart > 0)
            {
                _data.AsSpan(_dataStart, live).CopyTo(_data);
            }
            else
            {
                var grown = new byte[Math.Max(_data.Length * 2, Math.Max(16 * 1024, live + data.Length))];
                _data.AsSpan(_dataStart, live).CopyTo(grown);
                _data = grown;
            }

            _dataStart = 0;
            _dataEnd = live;
        }

        data.CopyTo(_data.AsSpan(_dataEnd));
        _dataEnd += data.Length;
    }

    internal void ClearHead()
    {
        Status = 0;
        _regularSeen = false;
        ContentLength = -1;
        _headLength = 0;
        _fieldCount = 0;
    }

    internal ValueTask<int> ReadWait()
    {
        _read.Reset();
        return new ValueTask<int>(this, _read.Version);
    }

    internal void CompleteRead(int result) => _read.SetResult(result);

    internal void FailRead(Exception error) => _read.SetException(error);

    internal ValueTask WindowWait() => _window.Wait();

    internal void CompleteWindow(Exception? error) => _window.Complete(error);

    void IHeaderSink.OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (Malformed is not null)
            return;
        if (InTrailers)
        {
            // Trailers are not passed on; one that could not be a field at all still makes the response malformed (8.1).
            if (name.IsEmpty || name[0] == (byte)':')
                Malformed = "a pseudo-header in the trailers";
            return;
        }

        if (!name.IsEmpty && name[0] == (byte)':')
        {
            if (_regularSeen)
                Malformed = "a pseudo-header after a regular header";
            else if (!name.SequenceEqual(":status"u8))
                Malformed = $"the pseudo-header {Encoding.ASCII.GetString(name)}, which a response cannot carry";
            else if (Status != 0)
                Malformed = "a second :status";
            else if (value.Length == 3 && value[0] is >= (byte)'1' and <= (byte)'9' && value[1] is >= (byte)'0' and <= (byte)'9' && value[2] is >= (byte)'0' and <= (byte)'9')
                Status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + value[2] - '0';
            else
                Malformed = $":status {Encoding.ASCII.GetString(value)}, not three digits from 100";
            return;
        }

        _regularSeen = true;
        if (!FieldRules.IsRegularName(name))
        {
            Malformed = $"the header name {Encoding.ASCII.GetString(name)}, not a lower-case token";
            return;
        }

        if (!FieldRules.IsValidValue(value))
        {
            Malformed = $"a CR, LF or NUL in the value of {Encoding.ASCII.GetString(name)}";
            return;
        }

        if (FieldRules.IsConnectionSpecific(name))
        {
            Malformed = $"the connection-specific header {Encoding.ASCII.GetString(name)}";
            return;
        }

        if (name.Length == 14 && name.SequenceEqual("content-length"u8))
        {
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length) || ContentLength >= 0 && ContentLength != length)
            {
                Malformed = $"content-length {Encoding.ASCII.GetString(value)} is not one length";
                return;
            }

            ContentLength = length;
        }

        var need = _headLength + name.Length + value.Length;
        if (need > _headBytes.Length)
            Array.Resize(ref _headBytes, Math.Max(need, _headBytes.Length * 2));
        if (_fieldCount == _fields.Length)
            Array.Resize(ref _fields, _fields.Length * 2);
        name.CopyTo(_headBytes.AsSpan(_headLength));
        value.CopyTo(_headBytes.AsSpan(_headLength + name.Length));
        _fields[_fieldCount++] = (_headLength, name.Length, _headLength + name.Length, value.Length);
        _headLength = need;
    }

    int IValueTaskSource<int>.GetResult(short token) => _read.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _read.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _read.OnCompleted(continuation, state, token, flags);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous reads only");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous writes only");

    /// <summary>The request body's wait for send window (its own source: it runs beside the response's waits).</summary>
    private sealed class WindowWaiter : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };

        public ValueTask Wait()
        {
            _core.Reset();
            return new ValueTask(this, _core.Version);
        }

        public void Complete(Exception? error)
        {
            if (error is null)
                _core.SetResult(true);
            else
                _core.SetException(error);
        }

        public void GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
