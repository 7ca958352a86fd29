using System.Buffers;
using System.IO.Pipelines;

namespace Weft.Proxy.Http2;

/// <summary>The request body's reader (credits the windows as the app consumes) and the response body's writer.</summary>
internal sealed partial class Http2ServerStream
{
    /// <summary>
    /// The request body: the stream's pipe, fed by DATA frames, with every byte the app advances past credited back to
    /// the client as WINDOW_UPDATE. A request without a body reads as ended at once.
    /// </summary>
    private sealed class RequestBodyReader(Http2ServerStream stream) : PipeReader
    {
        private PipeReader? _inner;
        private ReadOnlySequence<byte> _last;

        public void Start(PipeReader? inner)
        {
            _inner = inner;
            _last = default;
        }

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            if (_inner is not { } inner)
                return new ReadResult(default, isCanceled: false, isCompleted: true);
            stream.ContinueIfExpected();
            var result = await inner.ReadAsync(cancellationToken);
            _last = result.Buffer;
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (_inner is not { } inner)
            {
                result = new ReadResult(default, isCanceled: false, isCompleted: true);
                return true;
            }

            stream.ContinueIfExpected();

            if (!inner.TryRead(out result))
                return false;
            _last = result.Buffer;
            return true;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            if (_inner is not { } inner)
                return;
            var n = _last.Slice(_last.Start, consumed).Length;
            _last = default;
            inner.AdvanceTo(consumed, examined);
            stream._connection.Consumed(stream, (int)n);
        }

        public override void CancelPendingRead() => _inner?.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            // The pipe is the stream's to drop when it finishes; what the app never read is credited back then.
        }
    }

    /// <summary>The app starts reading a body its client holds back for "100-continue": the interim head goes first.</summary>
    private void ContinueIfExpected()
    {
        if (!_expectContinue)
            return;
        _expectContinue = false;
        _connection.SendContinue(this);
    }

    /// <summary>
    /// The response body: bytes gathered until a flush, which sends the head (first time) and DATA within the client's
    /// windows. The stream's end sends END_STREAM on the last DATA (or on the head, for an empty body). As Kestrel, the
    /// body is held to the response's Content-Length (RFC 9113 8.1.1): a write past it throws and is not sent, and a
    /// response ending short of it is reset instead of ended, so the client never gets more or a short body as whole.
    /// </summary>
    private sealed class ResponseBodyWriter(Http2ServerStream stream) : PipeWriter
    {
        private byte[] _buffer = [];
        private int _length;
        private bool _ended;

        /// <summary>Body bytes written so far (gathered or sent).</summary>
        private long _written;

        public void Start()
        {
            _length = 0;
            _ended = false;
            _written = 0;
        }

        /// <summary>The Content-Length the body is held to; null when there is none or it describes no body (HEAD, 204, 304).</summary>
        private long? Declared => stream.StatusCode is 204 or 304 || stream.Method == "HEAD" ? null : stream.ResponseHeaders.ContentLength;

        /// <summary>Counts <paramref name="bytes"/> more of the body; throws, as Kestrel does, when they go past the Content-Length.</summary>
        private void Count(int bytes)
        {
            if (bytes > 0 && Declared is { } declared && _written + bytes > declared)
                throw new InvalidOperationException($"Response Content-Length mismatch: too many bytes written ({_written + bytes} of {declared}).");
            _written += bytes;
        }

        public void Discard()
        {
            _length = 0;
            if (_buffer.Length > 64 * 1024)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }
        }

        public override void Advance(int bytes)
        {
            if (bytes < 0 || _length + bytes > _buffer.Length)
                throw new ArgumentOutOfRangeException(nameof(bytes));
            Count(bytes);
            _length += bytes;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsMemory(_length);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsSpan(_length);
        }

        private void Ensure(int sizeHint)
        {
            var needed = _length + Math.Max(sizeHint, 1);
            if (needed <= _buffer.Length)
                return;
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(4096, _buffer.Length * 2)));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            if (_buffer.Length > 0)
                ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _length;

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
            // The stream's end (when the handler returns) sends what is left with END_STREAM.
        }

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (_ended)
                return new FlushResult(isCanceled: false, isCompleted: true);
            await stream.BeginResponseAsync();
            var length = _length;
            _length = 0;
            await stream.SendAsync(_buffer.AsMemory(0, length), end: false);
            return new FlushResult(isCanceled: false, isCompleted: stream.Reset);
        }

        public override async ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            if (_ended)
                return new FlushResult(isCanceled: false, isCompleted: true);
            if (_length > 0)
            {
                // Keep the order: what is gathered goes first.
                this.Write(source.Span);
                return await FlushAsync(cancellationToken);
            }

            // Nothing gathered: the caller's bytes go to the frames without a copy here.
            Count(source.Length);
            await stream.BeginResponseAsync();
            await stream.SendAsync(source, end: false);
            return new FlushResult(isCanceled: false, isCompleted: stream.Reset);
        }

        /// <summary>Sends what is gathered with END_STREAM (the head too, if nothing was sent yet); throws, sending nothing, when the body is short of its Content-Length.</summary>
        public async ValueTask EndAsync()
        {
            if (_ended)
                return;
            if (Declared is { } declared && _written < declared)
                throw new InvalidOperationException($"Response Content-Length mismatch: too few bytes written ({_written} of {declared}).");
            _ended = true;
            var length = _length;
            _length = 0;
            await stream.SendAsync(_buffer.AsMemory(0, length), end: true);
        }
    }
}
