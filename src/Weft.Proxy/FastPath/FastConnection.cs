using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Listeners;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Observability;
using Weft.Proxy.Routing;

namespace Weft.Proxy.FastPath;

/// <summary>
/// One client connection on the fast path: reads each request head from the connection's pipe without consuming
/// it, forwards what <see cref="Http1FastPath.TryResolve"/> accepts, and at the first request it does not take
/// rewinds to that request's first byte and returns true so that Kestrel serves the rest of the connection.
/// One request at a time (pipelined requests wait in the pipe), so the per-request state lives in fields.
/// </summary>
internal sealed partial class FastConnection
{
    private readonly Http1FastPath _owner;
    private readonly ConnectionContext _connection;
    private readonly Listener _listener;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly TimeProvider _time;

    private byte[] _send = ArrayPool<byte>.Shared.Rent(4096);
    private byte[] _recv = ArrayPool<byte>.Shared.Rent(8192);
    private byte[]? _headCopy;
    private int _sendLength;
    private int _recvCount;

    // Connection state, also touched by Kestrel's callbacks (heartbeat, close requested, client gone).
    private volatile bool _inControl = true;
    private volatile bool _waiting;
    private volatile bool _partialHead;
    private volatile bool _clientGone;
    private volatile bool _closeRequested;
    private volatile bool _idleExpired;
    private long _waitingSince;
    private volatile UpstreamConnection? _active;

    // The current request.
    private RequestHead _head;
    private ReadOnlyMemory<byte> _headBytes;
    private ReadOnlySequence<byte> _request;
    private bool _buffered;

    /// <summary>The upstream answered before it took the whole (streamed) request body: neither connection carries another exchange.</summary>
    private bool _bodyUnsent;
    private bool _advanced;
    private bool _closeAfter;
    private Route _route = null!;
    private ClusterBinding _binding = null!;
    private Activity? _span;
    private TraceHop _trace;
    private ProxyErrorKind _error;
    private string? _errorMessage;

    // The current attempt.
    private EndpointState? _endpoint;
    private int _attempts;
    private int _status;
    private AttemptOutcome _outcome;
    private bool _declined;
    private bool _failed;
    private bool _responseStarted;
    private Exception? _exception;
    private long _headersAt;
    private ResponseHead _response;
    private string? _upstreamError;

    public FastConnection(Http1FastPath owner, ConnectionContext connection, Listener listener)
    {
        _owner = owner;
        _connection = connection;
        _listener = listener;
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        _time = owner.Time;
    }

    public async Task RunAsync(ConnectionDelegate next)
    {
        var gone = _connection.ConnectionClosed.UnsafeRegister(static s => ((FastConnection)s!).OnClientGone(), this);
        var close = _connection.Features.Get<IConnectionLifetimeNotificationFeature>() is { } lifetime
            ? lifetime.ConnectionClosedRequested.UnsafeRegister(static s => ((FastConnection)s!).OnCloseRequested(), this)
            : default;
        _connection.Features.Get<IConnectionHeartbeatFeature>()?.OnHeartbeat(static s => ((FastConnection)s).OnHeartbeat(), this);
        InlineCompletions.Set(_connection.Features, true);
        bool fallBack;
        try
        {
            fallBack = await ServeAsync();
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            // The client's side failed under us (reset, aborted while answering): the connection is over, nothing to report.
            fallBack = false;
        }
        finally
        {
            _inControl = false;
            await gone.DisposeAsync();
            await close.DisposeAsync();
            _active?.Dispose();
            _active = null;
            _exchange?.Dispose();
            ArrayPool<byte>.Shared.Return(_send);
            ArrayPool<byte>.Shared.Return(_recv);
            if (_headCopy is not null)
                ArrayPool<byte>.Shared.Return(_headCopy);
        }

        if (fallBack)
        {
            // Kestrel's HTTP path and the layered pipeline may block: back to the thread pool for the rest, this
            // request included (we may be on the epoll thread now, and Kestrel would start on it).
            _owner.FellBack();
            if (InlineCompletions.Set(_connection.Features, false))
                await Task.Yield();
            await next(_connection);
        }
    }

    /// <summary>Serves requests until the connection ends (false) or a request is the layered path's (true).</summary>
    private async Task<bool> ServeAsync()
    {
        var newRequest = true;
        while (true)
        {
            if (newRequest)
            {
                Volatile.Write(ref _waitingSince, _time.GetTimestamp());
                _partialHead = false;
                newRequest = false;
            }

            _waiting = true;
            // Pairs with the barrier in OnCloseRequested: either it sees us waiting, or we see its flag.
            Interlocked.MemoryBarrier();
            if (CloseRequested || _clientGone)
            {
                _waiting = false;
                return false;
            }

            ReadResult result;
            try
            {
                result = await _input.ReadAsync();
            }
            finally
            {
                _waiting = false;
            }

            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                _input.AdvanceTo(buffer.Start);
                if (CloseRequested || _idleExpired || _clientGone)
                    return false;
                continue;
            }

            if (buffer.IsEmpty)
            {
                _input.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                    return false;
                continue;
            }

            var parsed = ParseHead(buffer);
            if (parsed == HeadStatus.Incomplete)
            {
                if (result.IsCompleted)
                {
                    _input.AdvanceTo(buffer.Start);
                    return true;
                }

                _partialHead = true;
                _input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            if (parsed == HeadStatus.Declined
                || !Http1FastPath.TryResolve(_owner.Config.Table, _listener, _headBytes.Span.Slice(_head.HostStart, _head.HostLength), out var route, out var binding)
                // Headers become strings for HTTP/2, which takes only ASCII; Kestrel answers the rest as it would.
                || !binding.Http1Direct && !Ascii.IsValid(_headBytes.Span[.._head.Length]))
            {
                // Examined nothing: Kestrel's first read returns this request at once.
                _input.AdvanceTo(buffer.Start);
                return true;
            }

            var total = _head.Length + _head.ContentLength;
            _buffered = _head.ContentLength <= RetryLayer.MaxReplayBody;
            if (_buffered && buffer.Length < total)
            {
                // A body the layered path would buffer for retries: wait until all of it is here.
                if (result.IsCompleted)
                {
                    _input.AdvanceTo(buffer.Start);
                    return true;
                }

                _partialHead = true;
                _input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            _request = _buffered ? buffer.Slice(0, total) : buffer;
            _advanced = false;
            var keepAlive = await HandleAsync(route, binding);
            if (!_advanced)
                _input.AdvanceTo(_closeAfter ? buffer.End : _request.End);
            if (!keepAlive)
                return false;
            newRequest = true;
        }
    }

    private HeadStatus ParseHead(in ReadOnlySequence<byte> buffer)
    {
        var first = buffer.First;
        if (buffer.IsSingleSegment || first.Span.IndexOf("\r\n\r\n"u8) >= 0)
        {
            _headBytes = first;
            return RequestHead.Parse(first.Span, out _head);
        }

        _headCopy ??= ArrayPool<byte>.Shared.Rent(RequestHead.MaxLength);
        var length = (int)Math.Min(buffer.Length, RequestHead.MaxLength);
        buffer.Slice(0, length).CopyTo(_headCopy);
        _headBytes = _headCopy.AsMemory(0, length);
        return RequestHead.Parse(_headBytes.Span, out _head);
    }

    /// <summary>One request on the fast path, the order of the layered path: limits → retries → balance → forward.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder<>))]
    private async ValueTask<bool> HandleAsync(Route route, ClusterBinding binding)
    {
        var started = _time.GetTimestamp();
        _route = route;
        _binding = binding;
        _closeAfter = false;
        _error = ProxyErrorKind.None;
        _errorMessage = null;
        _attempts = 0;
        _status = 0;
        _responseStarted = false;
        _endpoint = null;
        _upstreamError = null;
        _response = default;
        _response.WeftError = -1;
        StartSpan();
        // A sidecar's request is built per attempt, as an HttpRequestMessage (FastConnection.Sidecar.cs).
        _toSidecar = !binding.Http1Direct;
        if (!_toSidecar)
            BuildRequest();

        var limiter = binding.Limiter;
        if (!limiter.TryEnter())
        {
            route.Stats.Overflow();
            Fail(ProxyErrorKind.Overflow, ProxyMessages.Overflow(binding));
        }
        else
        {
            try
            {
                await AttemptsAsync();
            }
            finally
            {
                limiter.Exit();
            }
        }

        int status;
        if (_error != ProxyErrorKind.None)
        {
            // A streamed body the upstream did not take is still (partly) in the pipe: answer, then close.
            if (!_buffered)
                _closeAfter = true;
            status = _clientGone ? 0 : ProxyErrors.Status(_error);
            if (!_clientGone)
            {
                ProxyErrors.WriteHttp1(_output, _error, _errorMessage!, _closeAfter || CloseRequested, _time.GetUtcNow());
                var flush = await _output.FlushAsync();
                if (flush.IsCompleted)
                    _clientGone = true;
            }
        }
        else
        {
            status = _responseStarted || !_clientGone ? _status : 0;
        }

        if (_owner.Count)
        {
            var stats = route.Stats;
            stats.Record(status, _time.GetElapsedTime(started));
            if (status is > 0 and < 500 && _responseStarted && _response.WeftError >= 0)
                stats.WeftError();
            if (_attempts > 1)
                stats.Retried(status is > 0 and < 500);
        }

        if (_span is { } span)
        {
            var cause = _error != ProxyErrorKind.None ? ProxyErrors.Code(_error) : _upstreamError;
            ProxyTracing.Finish(span, status, route.Stats.Service, route.Name, _endpoint?.HostPort, _attempts, cause);
        }

        return !_closeAfter && !_clientGone;
    }

    private void Fail(ProxyErrorKind kind, string message)
    {
        _error = kind;
        _errorMessage = message;
    }

    private void StartSpan()
    {
        _span = null;
        _trace = default;
        if (_owner.Tracing is not { } tracing)
            return;
        var head = _headBytes.Span;
        var parent = _head.TraceParentLine >= 0 ? head.Slice(_head.TraceParentValue, _head.TraceParentValueLength) : default;
        // Decided on the head's bytes: an unsampled request allocates nothing for tracing.
        _trace = tracing.Decide(parent);
        if (!_trace.Sampled)
            return;

        var state = _trace.HasParent && _head.TraceStateLine >= 0
            ? Encoding.ASCII.GetString(head.Slice(_head.TraceStateValue, _head.TraceStateValueLength))
            : null;
        var method = Method(head[.._head.MethodLength]);
        _span = tracing.StartSpan(method, inbound: false, _trace, state);
        if (_span is { IsAllDataRequested: true } span)
        {
            var target = head.Slice(_head.TargetStart, _head.TargetLength);
            var query = target.IndexOf((byte)'?');
            var host = Encoding.ASCII.GetString(head.Slice(_head.HostStart, _head.HostLength));
            var colon = host.LastIndexOf(':');
            if (colon >= 0 && host.IndexOf(']', StringComparison.Ordinal) < colon)
                host = host[..colon];
            ProxyTracing.TagRequest(span, method, Encoding.ASCII.GetString(query >= 0 ? target[..query] : target), host, inbound: false);
        }
    }

    private static string Method(ReadOnlySpan<byte> method)
    {
        if (method.SequenceEqual("GET"u8)) return "GET";
        if (method.SequenceEqual("POST"u8)) return "POST";
        if (method.SequenceEqual("PUT"u8)) return "PUT";
        if (method.SequenceEqual("DELETE"u8)) return "DELETE";
        if (method.SequenceEqual("HEAD"u8)) return "HEAD";
        if (method.SequenceEqual("PATCH"u8)) return "PATCH";
        if (method.SequenceEqual("OPTIONS"u8)) return "OPTIONS";
        return Encoding.ASCII.GetString(method);
    }

    /// <summary>
    /// The bytes sent to the upstream: the head as the caller wrote it (Host included), with this hop's
    /// <c>traceparent</c> in place of the caller's when tracing is on (and the caller's <c>tracestate</c> only beside
    /// a valid caller's <c>traceparent</c>), without the headers its <c>Connection</c> names (hop-by-hop), then the
    /// body when it is buffered.
    /// </summary>
    private void BuildRequest()
    {
        var head = _headBytes.Span[.._head.Length];
        var traced = _trace.Decided;
        var size = head.Length + (traced ? TraceHeaders.MaxLineLength : 0) + (_buffered ? (int)_head.ContentLength : 0);
        if (_send.Length < size)
        {
            ArrayPool<byte>.Shared.Return(_send);
            _send = ArrayPool<byte>.Shared.Rent(size);
        }

        var to = _send.AsSpan();
        int n;
        if (!traced)
        {
            head.CopyTo(to);
            n = head.Length;
        }
        else
        {
            var dropState = !_trace.HasParent && _head.TraceStateLine >= 0;
            n = TraceHeaders.CopyHead(head, to,
                _head.TraceParentLine, _head.TraceParentLineLength,
                dropState ? _head.TraceStateLine : -1, _head.TraceStateLineLength,
                _span is { } span ? TraceHeaders.Of(span) : _trace.Forward);
        }

        if (_head.ConnectionOptions)
            n = RequestHead.RemoveHopByHop(head, to[..n]);

        if (_buffered && _head.ContentLength > 0)
        {
            _request.Slice(_head.Length, _head.ContentLength).CopyTo(to[n..]);
            n += (int)_head.ContentLength;
        }

        _sendLength = n;
    }

    private void OnClientGone()
    {
        _clientGone = true;
        _active?.Dispose();
        CancelExchange();
    }

    /// <summary>
    /// Kestrel asked this connection to close, or the sidecar began to drain (<see cref="Http1FastPath.BeginDrain"/>):
    /// the next response says <c>Connection: close</c> and the connection ends after it. Kestrel asks each connection
    /// only after its listeners have stopped accepting, so without the drain flag a response written in between went
    /// out as keep-alive.
    /// </summary>
    private bool CloseRequested => _closeRequested || _owner.Draining;

    private void OnCloseRequested()
    {
        _closeRequested = true;
        Interlocked.MemoryBarrier();
        if (_waiting && _inControl)
            _input.CancelPendingRead();
    }

    /// <summary>Kestrel's once-a-second tick: closes a connection idle past the keep-alive timeout, or stuck in a head.</summary>
    private void OnHeartbeat()
    {
        if (!_inControl || !_waiting)
            return;
        var limit = _partialHead ? Http1FastPath.HeadersTimeout : Http1FastPath.KeepAliveTimeout;
        if (_time.GetElapsedTime(Volatile.Read(ref _waitingSince)) > limit)
        {
            _idleExpired = true;
            _input.CancelPendingRead();
        }
    }
}
