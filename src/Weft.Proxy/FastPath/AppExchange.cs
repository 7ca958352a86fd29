using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Observability;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.FastPath;

/// <summary>
/// One request from the inbound listener to the local app over a pooled raw HTTP/1.1 connection (see
/// <see cref="RawHttp1Client"/>); pooled itself, with the cancellation source that bounds the exchange.
/// <list type="bullet">
/// <item>Request: the head is written from the <see cref="HttpContext"/>; a body with a length up to 64 KiB is read
/// whole and sent with the head in one write (so a kept-alive connection the app had closed is retried once on a new
/// one, as <c>SocketsHttpHandler</c> does); a bigger one streams, and one without a length (an h2 stream without
/// <c>content-length</c>) goes chunked, as YARP would send it, while the response is read.</item>
/// <item>Response: interim 1xx heads are dropped (as YARP does); the final head's status, headers (minus hop-by-hop
/// ones and those its <c>Connection</c> names) and body go into <see cref="HttpContext.Response"/>. A body that came
/// with the head is written without a flush: Kestrel sends it with the end of the response (one h2 HEADERS + DATA).</item>
/// <item>Aborts: the caller going away, the attempt's timeout and <see cref="RawHttp1Client.ActivityTimeout"/>
/// close the app connection, which ends whatever is pending on it.</item>
/// </list>
/// </summary>
internal sealed partial class AppExchange(RawHttp1Client owner)
{
    private const int MaxResponseHead = 64 * 1024;

    private const int SendBuffer = 4096;
    private const int ReceiveBuffer = 8192;

    // The exchange's own buffers, kept while it is pooled: renting them per request from ArrayPool.Shared missed once
    // more exchanges were in flight than its per-core stacks hold (100 h2 streams), and every miss was a new 12 KiB to
    // clear. A head or response head that outgrows them rents a bigger one, returned at the end.
    private readonly byte[] _ownSend = GC.AllocateUninitializedArray<byte>(SendBuffer);
    private readonly byte[] _ownRecv = GC.AllocateUninitializedArray<byte>(ReceiveBuffer);
    private CancellationTokenSource _cts = new();
    private readonly Lock _expiry = new();
    private long _lastActivity;
    private volatile bool _running;
    private byte[] _send = [];
    private byte[] _recv = [];
    private int _sendLength;
    private int _recvCount;
    private ResponseHead _response;
    private ProxyCall _call = null!;
    private volatile UpstreamConnection? _active;
    private volatile bool _clientGone;
    private volatile bool _timedOut;

    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    public async ValueTask RunAsync(ProxyCall call)
    {
        _call = call;
        _clientGone = false;
        _timedOut = false;
        _send = _ownSend;
        _recv = _ownRecv;
        var token = _cts.Token;
        // Written before _running: the sweeper that sees it running sees this exchange's start, not the last one's.
        Volatile.Write(ref _lastActivity, owner.Time.GetTimestamp());
        _running = true;
        CancellationTokenRegistration aborted = default, attempt = default;
        try
        {
            aborted = call.Http.RequestAborted.UnsafeRegister(static s => ((AppExchange)s!).Cancel(clientGone: true), this);
            if (call.AttemptToken.CanBeCanceled)
                attempt = call.AttemptToken.UnsafeRegister(static s => ((AppExchange)s!).Cancel(clientGone: false), this);
            await ExchangeAsync(call, token);
        }
        finally
        {
            // The callbacks may run on other threads; once these return, none is running or will run.
            aborted.Dispose();
            attempt.Dispose();
            lock (_expiry)
                _running = false;
            _active?.Dispose();
            _active = null;
            ReturnIfRented(_send);
            ReturnIfRented(_recv);
            _send = _recv = [];
            if (!_cts.TryReset())
            {
                _cts.Dispose();
                _cts = new CancellationTokenSource();
            }

            _call = null!;
            owner.Return(this);
        }
    }

    /// <summary>
    /// Ends the exchange when nothing came from the app for <see cref="RawHttp1Client.ActivityTimeout"/> (no response
    /// head, or no body bytes): its connection closes and the attempt fails as timed out. Called by the client's
    /// sweeper, so no timer is armed per request.
    /// </summary>
    internal void ExpireIfIdle(long now)
    {
        if (!_running)
            return;
        lock (_expiry)
        {
            if (_running && owner.Time.GetElapsedTime(Volatile.Read(ref _lastActivity), now) >= RawHttp1Client.ActivityTimeout)
                Cancel(clientGone: false);
        }
    }

    /// <summary>Gives back a buffer rented because a head outgrew the exchange's own; the own ones stay.</summary>
    private void ReturnIfRented(byte[] buffer)
    {
        if (buffer != _ownSend && buffer != _ownRecv)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    private void Cancel(bool clientGone)
    {
        if (clientGone)
            _clientGone = true;
        else
            _timedOut = true;
        _active?.Dispose();
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask ExchangeAsync(ProxyCall call, CancellationToken token)
    {
        var http = call.Http;
        var request = http.Request;
        var binding = call.Target!.Binding;
        var pool = owner.Pools.For(call.Endpoint!);

        // -1: no length (chunked to the app).
        var bodyLength = request.ContentLength
            ?? (http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false ? 0 : -1);
        var buffered = bodyLength is >= 0 and <= RetryLayer.MaxReplayBody;
        WriteHead(call, bodyLength);
        if (buffered && bodyLength > 0)
        {
            bool complete;
            try
            {
                complete = await ReadBodyAsync(request.BodyReader, (int)bodyLength);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                RequestBodyFailed(call, e);
                return;
            }

            if (!complete)
            {
                RequestBodyFailed(call, new IOException("the caller's request body ended before its Content-Length"));
                return;
            }
        }

        UpstreamConnection connection;
        Task<bool>? body = null;
        for (var fresh = false; ; fresh = true)
        {
            // (A pooled connection the app closed or wrote on while idle is not rented: a streamed body is not sent on it.)
            var rented = fresh ? null : pool.TryRent();
            var reused = rented is not null;
            if (rented is null)
            {
                try
                {
                    rented = await pool.ConnectAsync(binding.ConnectTimeout, token);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Failed(call, e, AttemptOutcome.ConnectFailure, ForwarderError.Request);
                    return;
                }
            }

            connection = rented;
            _active = connection;
            if (token.IsCancellationRequested)
                connection.Dispose();
            try
            {
                await connection.SendAllAsync(_send.AsMemory(0, _sendLength));
                if (!buffered)
                    body = SendBodyAsync(connection, request.BodyReader, bodyLength);
                if (await ReceiveHeadAsync(connection))
                    break;
                connection.Dispose();
                // A kept-alive connection the app had closed: nothing was processed, send it once more on a new one.
                if (reused && buffered && !token.IsCancellationRequested)
                    continue;
                await SettleAsync(body, request);
                Failed(call, new IOException("the app closed the connection without responding"), AttemptOutcome.Reset, ForwarderError.Request);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                connection.Dispose();
                // (Disposed: a pooled connection the abort of an earlier exchange closed as it was being returned.)
                if (reused && buffered && _recvCount == 0 && !token.IsCancellationRequested && e is SocketException or IOException or ObjectDisposedException)
                    continue;
                await SettleAsync(body, request);
                Failed(call, e, AttemptOutcome.Reset, ForwarderError.Request);
                return;
            }
        }

        var status = _response.Status;
        call.Outcome = status >= 500 ? AttemptOutcome.ServerError : AttemptOutcome.Success;
        if (call.ResponseArrived(status))
        {
            // Declined for a retry: nothing reaches the caller; the body is not read, so the connection goes.
            connection.Dispose();
            _active = null;
            await SettleAsync(body, request);
            return;
        }

        var framing = _response.Framing(HttpMethods.IsHead(request.Method));
        CopyHead(http, framing);
        bool reusable;
        try
        {
            reusable = await CopyBodyAsync(http, connection, framing);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The response has begun: the caller can only learn of the failure by the stream (or connection) being reset.
            connection.Dispose();
            _active = null;
            await SettleAsync(body, request);
            call.Exception = e;
            call.ForwarderError = _clientGone ? ForwarderError.ResponseBodyClient : ForwarderError.ResponseBodyDestination;
            call.Outcome = _clientGone || e is ConnectionAbortedException ? AttemptOutcome.Cancelled : _timedOut || token.IsCancellationRequested ? AttemptOutcome.Timeout : AttemptOutcome.Reset;
            if (call.Outcome != AttemptOutcome.Cancelled)
                owner.Log.FastAttemptFailed(binding.Name, call.Endpoint!.HostPort, call.Outcome, e);
            http.Abort();
            return;
        }

        if (body is not null)
        {
            // The app answered before it read the whole request body: this connection cannot carry another exchange.
            if (!body.IsCompleted)
            {
                reusable = false;
                connection.Dispose();
            }

            reusable &= await SettleAsync(body, request);
        }

        _active = null;
        if (reusable && !token.IsCancellationRequested && !_clientGone)
            pool.Return(connection);
        else
            connection.Dispose();
    }

    private void Failed(ProxyCall call, Exception e, AttemptOutcome outcome, ForwarderError error)
    {
        _active = null;
        call.Exception = e;
        if (_clientGone)
        {
            call.Outcome = AttemptOutcome.Cancelled;
            call.ForwarderError = ForwarderError.RequestCanceled;
            return;
        }

        if (_timedOut || _cts.IsCancellationRequested)
        {
            call.Outcome = AttemptOutcome.Timeout;
            call.ForwarderError = ForwarderError.RequestTimedOut;
        }
        else
        {
            call.Outcome = outcome;
            call.ForwarderError = error;
        }

        owner.Log.FastAttemptFailed(call.Target!.Binding.Name, call.Endpoint!.HostPort, call.Outcome, e);
    }

    private void RequestBodyFailed(ProxyCall call, Exception e)
    {
        call.Exception = e;
        call.Outcome = AttemptOutcome.Cancelled;
        call.ForwarderError = ForwarderError.RequestBodyClient;
        // As YARP: the caller broke its own request; whatever it still reads of this exchange, it gets a reset.
        call.Http.Abort();
    }

    /// <summary>Waits for a streamed request body's sender to stop; true when it sent the whole body.</summary>
    private static async ValueTask<bool> SettleAsync(Task<bool>? body, HttpRequest request)
    {
        if (body is null)
            return true;
        if (!body.IsCompleted)
            request.BodyReader.CancelPendingRead();
        return await body;
    }
}
