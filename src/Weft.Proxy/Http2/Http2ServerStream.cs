using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Weft.Proxy.Http2;

/// <summary>
/// One request/response of an <see cref="Http2ServerConnection"/>, and the features its <see cref="DefaultHttpContext"/>
/// reads: the request head decoded from HPACK, the body fed by DATA frames, the response head and body sent as frames,
/// the lifetime tied to RST_STREAM and the connection. Anything else comes from the connection's features (the
/// <see cref="Listeners.Listener"/>, the TLS client certificate). Pooled per connection; <see cref="Generation"/> tells a
/// late call about a previous use from the current one.
/// </summary>
internal sealed partial class Http2ServerStream : IHeaderSink, IHttpRequestFeature, IHttpResponseFeature, IHttpResponseBodyFeature,
    IHttpRequestBodyDetectionFeature, IRequestBodyPipeFeature, IHttpRequestLifetimeFeature, IHttpResetFeature, IHttp2SendWindow
{
    private static readonly PipeOptions BodyPipeOptions = new(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);

    private readonly Http2ServerConnection _connection;
    private readonly Lock _bodySync = new();
    private readonly RequestBodyReader _bodyReader;
    private readonly Stream _bodyStream;
    private readonly ResponseBodyWriter _responseWriter;
    private readonly Stream _responseStream;
    private DefaultHttpContext? _context;
    private CancellationTokenSource _aborted = new();
    private Pipe? _requestPipe;
    private PipeReader? _wrappedBody;
    private Stream? _wrappedBodyOf;

    // Request head as decoded.
    private string? _method, _scheme, _authority, _path;
    private bool _regularSeen;
    private Http2ErrorCode? _malformed;

    private bool _started;
    private ValueTask _run;
    private Action? _runEnded;
    private List<(Func<object, Task> Callback, object State)>? _onStarting;
    private List<(Func<object, Task> Callback, object State)>? _onCompleted;

    public Http2ServerStream(Http2ServerConnection connection)
    {
        _connection = connection;
        _bodyReader = new RequestBodyReader(this);
        _bodyStream = _bodyReader.AsStream(leaveOpen: true);
        _responseWriter = new ResponseBodyWriter(this);
        _responseStream = _responseWriter.AsStream(leaveOpen: true);
        ((IHttpRequestFeature)this).Body = _bodyStream;
    }

    // Protocol state, guarded by the connection's lock.
    public int Id { get; private set; }
    public int Generation { get; private set; }
    public bool RequestEnded { get; set; }
    public bool ResponseEnded { get; set; }
    public bool Reset { get; set; }
    public bool HeadersSent { get; set; }
    public long SendWindow { get; set; }
    public long ReceiveWindow { get; set; }
    public int StreamCredit { get; set; }
    public int Buffered { get; set; }
    public long Received { get; set; }
    public long ContentLength { get; private set; } = -1;
    public TaskCompletionSource? WindowWaiter { get; set; }

    public int StatusCode { get; set; } = 200;
    public IHeaderDictionary ResponseHeaders { get; private set; } = new HeaderDictionary();
    private HeaderDictionary _requestHeaders = new();

    /// <summary>Starts a new use for stream <paramref name="id"/> (called by the read loop before decoding its head).</summary>
    public void Begin(int id, bool endStream)
    {
        Id = id;
        Generation++;
        RequestEnded = ResponseEnded = Reset = HeadersSent = false;
        StreamCredit = Buffered = 0;
        Received = 0;
        ContentLength = -1;
        WindowWaiter = null;
        StatusCode = 200;
        ReasonPhrase = null;
        Protocol = "HTTP/2";
        PathBase = "";
        _method = _scheme = _authority = _path = null;
        _regularSeen = false;
        _expectContinue = false;
        _malformed = null;
        _started = false;
        ResetTrailers(endStream);
        CanHaveBody = !endStream;
        lock (_bodySync)
            _requestPipe = endStream ? null : new Pipe(BodyPipeOptions);
        _bodyReader.Start(_requestPipe?.Reader);
        _responseWriter.Start();
        if (!_aborted.TryReset())
            _aborted = new CancellationTokenSource();
        RequestAborted = _aborted.Token;
        ResetFeatures();
        if (_context is null)
            _context = new DefaultHttpContext(this);
        else
            _context.Initialize(this);
    }

    /// <summary>
    /// Runs the handler, inline until its first incomplete await. Its pooled task's result is taken when it ends (which
    /// returns the task's box), and only then does the stream go back to the connection, so a reuse of this stream never
    /// meets the end of the previous run.
    /// </summary>
    public void Start(Func<HttpContext, ValueTask> application)
    {
        var run = RunAsync(application);
        if (run.IsCompleted)
        {
            Ended(run);
            return;
        }

        _run = run;
        run.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_runEnded ??= RunEnded);
    }

    private void RunEnded()
    {
        var run = _run;
        _run = default;
        Ended(run);
    }

    private void Ended(ValueTask run)
    {
        try
        {
            // RunAsync catches what its handler throws; this only gives the box back.
            run.GetAwaiter().GetResult();
        }
        finally
        {
            _connection.StreamFinished(this);
        }
    }

    /// <summary>Runs the application on this stream, then ends the response (or resets it).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask RunAsync(Func<HttpContext, ValueTask> application)
    {
        var context = _context!;
        Exception? failure = null;
        try
        {
            await application(context);
        }
        catch (Exception e)
        {
            failure = e;
        }

        try
        {
            if (failure is null)
            {
                // A body feature the app put in front of ours (the access log's counting stream) flushes into ours.
                if (((IFeatureCollection)this).Get<IHttpResponseBodyFeature>() is { } body && !ReferenceEquals(body, this))
                    await body.CompleteAsync();
                await EndResponseAsync();
            }
            else if (!_started)
            {
                StatusCode = 500;
                ResponseHeaders.Clear();
                _appTrailers?.Clear();
                _responseWriter.Discard();
                await EndResponseAsync();
            }
            else
            {
                _connection.ResetStream(this, Http2ErrorCode.InternalError);
            }
        }
        catch (Exception)
        {
            _connection.ResetStream(this, Http2ErrorCode.InternalError);
        }

        if (_onCompleted is { } completed)
        {
            for (var i = completed.Count - 1; i >= 0; i--)
            {
                try
                {
                    await completed[i].Callback(completed[i].State);
                }
                catch (Exception)
                {
                    // As Kestrel: a failing OnCompleted callback does not affect the others.
                }
            }
        }

    }

    /// <summary>Back to the pool: the request body's pipe is dropped, lists and headers cleared.</summary>
    public void Recycle()
    {
        lock (_bodySync)
        {
            _requestPipe?.Writer.Complete();
            _requestPipe = null;
        }

        _bodyReader.Start(null);
        _responseWriter.Discard();
        _context?.Uninitialize();
        _onStarting?.Clear();
        _onCompleted?.Clear();
        // Kept and cleared, as Kestrel keeps its header collections per stream: their stores stay allocated.
        _requestHeaders.Clear();
        RecycleTrailers();
        if (ResponseHeaders is HeaderDictionary own)
            own.Clear();
        else
            ResponseHeaders = new HeaderDictionary();
        _wrappedBody = null;
        _wrappedBodyOf = null;
        ((IHttpRequestFeature)this).Body = _bodyStream;
    }

    /// <summary>Bytes the app never read: the connection takes them back (under the connection's lock).</summary>
    public int DropBuffered()
    {
        var n = Buffered;
        Buffered = 0;
        return n;
    }

    /// <summary>DATA for the request body, or its end; from the read loop only.</summary>
    public void ReceiveData(ReadOnlySpan<byte> data, bool end)
    {
        PipeWriter writer;
        lock (_bodySync)
        {
            if (_requestPipe is null)
                return;
            writer = _requestPipe.Writer;
            if (!data.IsEmpty)
                writer.Write(data);
            if (end)
            {
                writer.Complete();
                _requestPipe = null;
                return;
            }
        }

        try
        {
            // No pause threshold: the stream's window is the bound. The app's read continues inline.
            _ = writer.FlushAsync();
        }
        catch (InvalidOperationException)
        {
            // Completed meanwhile by an abort.
        }
    }

    /// <summary>RequestAborted fires; a read of the body fails with <paramref name="error"/>; window waits end.</summary>
    public void Abort(Exception error)
    {
        lock (_bodySync)
        {
            _requestPipe?.Writer.Complete(error);
            _requestPipe = null;
        }

        _connection.TakeWindowWaiter(this)?.TrySetResult();
        try
        {
            _aborted.Cancel();
        }
        catch (AggregateException)
        {
            // A callback of the token failed; the stream is gone either way.
        }
    }

    /// <summary>A task completed by the next WINDOW_UPDATE (or abort); under the connection's lock.</summary>
    public Task WaitForWindowLocked()
    {
        WindowWaiter ??= new TaskCompletionSource();
        return WindowWaiter.Task;
    }

    /// <summary>Runs OnStarting callbacks once, before the first frame of the response.</summary>
    private async ValueTask StartResponseAsync()
    {
        if (_started)
            return;
        _started = true;
        if (_onStarting is { } starting)
        {
            for (var i = starting.Count - 1; i >= 0; i--)
                await starting[i].Callback(starting[i].State);
        }
    }

    private async ValueTask EndResponseAsync()
    {
        await StartResponseAsync();
        await _responseWriter.EndAsync();
    }

    // ---- IHttpRequestFeature ----

    public string Protocol { get; set; } = "HTTP/2";
    public string Scheme { get; set; } = "http";
    public string Method { get; set; } = "GET";
    public string PathBase { get; set; } = "";
    public string Path { get; set; } = "/";
    public string QueryString { get; set; } = "";
    public string RawTarget { get; set; } = "/";

    IHeaderDictionary IHttpRequestFeature.Headers
    {
        get => _requestHeaders;
        set => _requestHeaders = value as HeaderDictionary ?? new HeaderDictionary(value.ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase));
    }

    Stream IHttpRequestFeature.Body { get; set; } = Stream.Null;

    // ---- IHttpRequestBodyDetectionFeature, IRequestBodyPipeFeature ----

    public bool CanHaveBody { get; private set; }

    PipeReader IRequestBodyPipeFeature.Reader
    {
        get
        {
            var body = ((IHttpRequestFeature)this).Body;
            if (ReferenceEquals(body, _bodyStream))
                return _bodyReader;
            // Someone put a stream in front of ours (the access log counts bytes): read through it.
            if (!ReferenceEquals(body, _wrappedBodyOf))
            {
                _wrappedBodyOf = body;
                _wrappedBody = PipeReader.Create(body, new StreamPipeReaderOptions(leaveOpen: true));
            }

            return _wrappedBody!;
        }
    }

    // ---- IHttpResponseFeature ----

    int IHttpResponseFeature.StatusCode
    {
        get => StatusCode;
        set => StatusCode = value;
    }

    public string? ReasonPhrase { get; set; }

    IHeaderDictionary IHttpResponseFeature.Headers
    {
        get => ResponseHeaders;
        set => ResponseHeaders = value;
    }

    [Obsolete("Use IHttpResponseBodyFeature.Stream")]
    Stream IHttpResponseFeature.Body
    {
        get => _responseStream;
        set => throw new NotSupportedException("set the response body through IHttpResponseBodyFeature");
    }

    public bool HasStarted => _started;

    public void OnStarting(Func<object, Task> callback, object state)
    {
        if (_started)
            throw new InvalidOperationException("the response has already started");
        (_onStarting ??= []).Add((callback, state));
    }

    public void OnCompleted(Func<object, Task> callback, object state) => (_onCompleted ??= []).Add((callback, state));

    // ---- IHttpResponseBodyFeature ----

    public Stream Stream => _responseStream;

    public PipeWriter Writer => _responseWriter;

    public void DisableBuffering()
    {
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await StartResponseAsync();
        await _responseWriter.FlushAsync(cancellationToken);
    }

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(_responseStream, path, offset, count, cancellationToken);

    public Task CompleteAsync() => EndResponseAsync().AsTask();

    // ---- IHttpRequestLifetimeFeature, IHttpResetFeature ----

    public CancellationToken RequestAborted { get; set; }

    public void Abort() => _connection.ResetStream(this, Http2ErrorCode.Cancel);

    void IHttpResetFeature.Reset(int errorCode) => _connection.ResetStream(this, (Http2ErrorCode)errorCode);

    internal ValueTask SendAsync(ReadOnlyMemory<byte> data, bool end) => _connection.SendAsync(this, data, end);

    internal ValueTask BeginResponseAsync() => StartResponseAsync();
}
