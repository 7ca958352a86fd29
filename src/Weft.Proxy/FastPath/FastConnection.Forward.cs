using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Resilience;

namespace Weft.Proxy.FastPath;

internal sealed partial class FastConnection
{
    /// <summary>Response heads larger than this are an upstream error.</summary>
    private const int MaxResponseHead = 64 * 1024;

    /// <summary>
    /// <see cref="RetryLayer"/>'s loop, on the fast path's own attempts: per-try and request timeouts, retries on the
    /// route's conditions within the cluster's budget, backoff on the injected clock, another endpoint when there is one.
    /// </summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask AttemptsAsync()
    {
        var route = _route;
        var binding = _binding;
        var action = route.Action;
        var policy = action.Retry;
        binding.Budget.RecordRequest();
        // A streamed body is read once: only what never reached the upstream (connect failures) can be tried again.
        var retriesLeft = policy.NumRetries > 0 && (policy.OnlyUnsentRequests || _buffered) ? policy.NumRetries : 0;
        var requestTimeout = action.RequestTimeout;
        List<EndpointState>? tried = null;
        var retry = 0;
        var started = _time.GetTimestamp();
        while (true)
        {
            var remaining = requestTimeout is { } total ? total - _time.GetElapsedTime(started) : (TimeSpan?)null;
            if (remaining <= TimeSpan.Zero)
            {
                TimedOut(requestTimeout!.Value);
                return;
            }

            var perTry = action.PerTryTimeout;
            var overallBound = remaining is not null && (perTry is null || remaining <= perTry);
            var attemptTimeout = overallBound ? remaining : perTry;
            var endpoint = binding.Cluster.Pick(null, tried);
            if (endpoint is null)
            {
                Fail(ProxyErrorKind.NoHealthyEndpoint, ProxyMessages.NoHealthyEndpoint(binding, _owner.Config.Table.Version));
                return;
            }

            _endpoint = endpoint;
            _attempts++;
            _declined = false;
            _failed = false;
            _status = 0;
            _outcome = AttemptOutcome.Success;
            _exception = null;
            _headersAt = 0;
            var attemptStarted = _time.GetTimestamp();
            using (var timer = attemptTimeout is { } t ? new CancellationTokenSource(t, _time) : null)
            {
                try
                {
                    if (_toSidecar)
                        await SidecarAttemptAsync(endpoint, retriesLeft > 0, timer?.Token ?? CancellationToken.None);
                    else
                        await AttemptAsync(endpoint, retriesLeft > 0, timer?.Token ?? CancellationToken.None);
                }
                catch
                {
                    _outcome = AttemptOutcome.Reset;
                    throw;
                }
                finally
                {
                    var end = _headersAt != 0 ? _headersAt : _time.GetTimestamp();
                    binding.Cluster.Report(endpoint, _outcome, _time.GetElapsedTime(attemptStarted, end));
                }
            }

            if (_outcome == AttemptOutcome.Cancelled || !(_declined || _failed) || _responseStarted)
                return;
            if (_outcome == AttemptOutcome.Timeout && overallBound)
            {
                TimedOut(requestTimeout!.Value);
                return;
            }

            if (!(_declined || policy.RetriesFailure(_outcome)) || retriesLeft == 0)
            {
                var kind = ProxyMessages.KindOf(_outcome);
                if (kind == ProxyErrorKind.PerTryTimeout)
                    route.Stats.Timeout();
                Fail(_declined ? ProxyErrorKind.UpstreamReset : kind, Describe() + ProxyMessages.Attempts(_attempts));
                return;
            }

            if (!binding.Budget.TryRetry())
            {
                route.Stats.BudgetExhaustion();
                Fail(ProxyErrorKind.RetryBudgetExhausted, ProxyMessages.BudgetExhausted(binding.Name, Describe()));
                return;
            }

            retriesLeft--;
            retry++;
            route.Stats.Retry();
            (tried ??= new List<EndpointState>(2)).Add(endpoint);
            var delay = Backoff.Delay(retry);
            if (requestTimeout is { } limit && _time.GetElapsedTime(started) + delay >= limit)
            {
                TimedOut(limit);
                return;
            }

            try
            {
                await Task.Delay(delay, _time, _connection.ConnectionClosed);
            }
            catch (OperationCanceledException)
            {
                _clientGone = true;
                return;
            }
        }
    }

    private void TimedOut(TimeSpan limit)
    {
        _route.Stats.Timeout();
        Fail(ProxyErrorKind.Timeout, ProxyMessages.RequestTimeout(_binding.Name, limit, _attempts));
    }

    private string Describe()
    {
        var reason = _exception?.InnerException?.Message ?? _exception?.Message ?? _outcome.ToString();
        return ProxyMessages.Attempt(_binding.Name, _endpoint?.HostPort ?? "?", _declined, _status, _outcome, reason, _route.Action.PerTryTimeout);
    }

    /// <summary>
    /// One attempt at one endpoint: a pooled connection (or a new one), the request, the response head; then either
    /// declined (a status the route retries: nothing reaches the client) or copied to the client.
    /// </summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask AttemptAsync(EndpointState endpoint, bool mayDecline, CancellationToken token)
    {
        var pool = _owner.Pools.For(endpoint);
        UpstreamConnection? connection = null;
        for (var fresh = false; ; fresh = true)
        {
            connection = fresh ? null : pool.TryRent();
            var reused = connection is not null;
            if (connection is null)
            {
                try
                {
                    connection = await pool.ConnectAsync(_binding.ConnectTimeout, token);
                }
                catch (Exception e)
                {
                    Failed(token, e, AttemptOutcome.ConnectFailure);
                    return;
                }
            }

            _active = connection;
            if (_clientGone)
                connection.Dispose();
            try
            {
                _bodyUnsent = false;
                await SendAsync(connection, token);
                if (_buffered ? await ReceiveHeadAsync(connection, token) : await StreamBodyAsync(connection, token))
                    break;
                connection.Dispose();
                // A kept-alive connection the upstream had closed: nothing was processed, send it once more on a new one.
                if (reused && _buffered && !_clientGone && !token.IsCancellationRequested)
                    continue;
                Failed(token, new IOException("the upstream closed the connection without responding"), AttemptOutcome.Reset);
                return;
            }
            catch (Exception e)
            {
                connection.Dispose();
                if (reused && _buffered && _recvCount == 0 && !_clientGone && !token.IsCancellationRequested && e is SocketException or IOException)
                    continue;
                Failed(token, e, AttemptOutcome.Reset);
                return;
            }
        }

        _headersAt = _time.GetTimestamp();
        _status = _response.Status;
        _outcome = _status >= 500 ? AttemptOutcome.ServerError : AttemptOutcome.Success;
        if (mayDecline && _route.Action.Retry.RetriesStatus(_status))
        {
            // The body is not read: the connection goes rather than being drained.
            _declined = true;
            connection.Dispose();
            _active = null;
            return;
        }

        _responseStarted = true;
        if (_owner.Tracing is not null && _response.WeftError >= 0)
            _upstreamError = Encoding.ASCII.GetString(_recv, _response.WeftError, _response.WeftErrorLength);
        bool reusable;
        try
        {
            reusable = await CopyResponseAsync(connection);
        }
        catch (Exception e)
        {
            connection.Dispose();
            _active = null;
            ResponseFailedMidway(endpoint, e);
            return;
        }

        _active = null;
        if (reusable && !_clientGone)
            pool.Return(connection);
        else
            connection.Dispose();
    }

    private void Failed(CancellationToken token, Exception e, AttemptOutcome outcome)
    {
        _active = null;
        _failed = true;
        _exception = e;
        _outcome = _clientGone ? AttemptOutcome.Cancelled : token.IsCancellationRequested ? AttemptOutcome.Timeout : outcome;
        if (_outcome == AttemptOutcome.Cancelled)
            _exception = null;
        _owner.Log.FastAttemptFailed(_binding.Name, _endpoint!.HostPort, _outcome, e);
    }

    /// <summary>Sends the request head, with the body when it is buffered.</summary>
    private ValueTask SendAsync(UpstreamConnection connection, CancellationToken token)
    {
        _recvCount = 0;
        return connection.SendAllAsync(_send.AsMemory(0, _sendLength), token);
    }

    /// <summary>
    /// Streams the body from the client while a receive watches the upstream, and reads the response head; false when
    /// the upstream closed without a byte. An upstream may answer before it has taken the whole body (a 413, a 401) and
    /// then neither read nor close: its answer goes to the caller at once, the rest of the body stays unsent
    /// (<see cref="_bodyUnsent"/>: neither connection is used again), rather than the send waiting for a timeout.
    /// </summary>
    private async Task<bool> StreamBodyAsync(UpstreamConnection connection, CancellationToken token)
    {
        var head = ReceiveHeadAsync(connection, token).AsTask();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        var body = SendBodyAsync(connection, stop.Token).AsTask();
        if (await Task.WhenAny(body, head) == head && !body.IsCompleted && head.IsCompletedSuccessfully && head.Result)
        {
            _bodyUnsent = true;
            await stop.CancelAsync();
            // The send stops where it was, however it ends (a client that left meanwhile has set _clientGone).
            await Settled(body);
            return true;
        }

        try
        {
            await body;
        }
        catch (Exception e) when (!_clientGone && !token.IsCancellationRequested && e is SocketException or IOException)
        {
            // The upstream stopped taking the body (closed or reset): it may have answered first (an early 413 and a
            // close); that answer is the caller's, else the send's failure is.
            _bodyUnsent = true;
            if (!await TryReceiveEarlyHeadAsync(head))
                throw;
            return true;
        }
        catch
        {
            // The watch must end before another attempt reads into the same buffer; the send's failure is the one told.
            connection.Dispose();
            await Settled(head);
            throw;
        }

        return await head;
    }

    /// <summary>Waits for a task this attempt no longer needs the result of, whatever it ends with.</summary>
    private static async Task Settled(Task task)
    {
        try
        {
            await task;
        }
        catch
        {
            // Observed: the caller has its own outcome.
        }
    }

    /// <summary>The body from the client as it comes, after the head.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask SendBodyAsync(UpstreamConnection connection, CancellationToken token)
    {
        // From here on the request is consumed as it is sent: no attempt after this one can replay it.
        _advanced = true;
        var remaining = _head.ContentLength;
        var buffer = _request.Slice(_head.Length);
        while (true)
        {
            var part = buffer.Slice(0, Math.Min(buffer.Length, remaining));
            foreach (var segment in part)
                await connection.SendAllAsync(segment, token);
            remaining -= part.Length;
            _input.AdvanceTo(part.End);
            if (remaining == 0)
                return;
            var result = await _input.ReadAsync(token);
            buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                _clientGone = true;
                throw new ConnectionAbortedException("the client closed the connection before sending the whole body");
            }
        }
    }

    /// <summary>A response head the upstream sent before it stopped reading the request body, if there is a whole one.</summary>
    private static async ValueTask<bool> TryReceiveEarlyHeadAsync(Task<bool> head)
    {
        try
        {
            return await head;
        }
        catch (Exception e) when (e is SocketException or IOException or InvalidDataException)
        {
            return false;
        }
    }

    /// <summary>Reads the final response head into the receive buffer (interim 1xx heads are passed to the client on the way); false when the upstream closed without a byte.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder<>))]
    private async ValueTask<bool> ReceiveHeadAsync(UpstreamConnection connection, CancellationToken token)
    {
        _recvCount = 0;
        var any = false;
        while (true)
        {
            if (_recvCount == _recv.Length)
            {
                if (_recv.Length >= MaxResponseHead)
                    throw new InvalidDataException($"response head larger than {MaxResponseHead} bytes");
                var bigger = ArrayPool<byte>.Shared.Rent(_recv.Length * 2);
                _recv.AsSpan(0, _recvCount).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_recv);
                _recv = bigger;
            }

            var n = await connection.ReceiveAsync(_recv.AsMemory(_recvCount), token);
            if (n == 0)
            {
                if (!any)
                    return false;
                throw new IOException("the upstream closed the connection in the middle of the response head");
            }

            any = true;
            _recvCount += n;
            while (true)
            {
                var parsed = ResponseHead.Parse(_recv.AsSpan(0, _recvCount), out _response);
                if (parsed == HeadStatus.Incomplete)
                    break;
                if (parsed == HeadStatus.Declined || _response.Status == 101)
                    throw new InvalidDataException("the upstream sent " + (_response.Problem ?? "101 Switching Protocols to a request without Upgrade"));
                if (_response.Status >= 200)
                    return true;
                // An interim response (103 Early Hints, or a 100 Continue the request did not ask for): passed on as it
                // came, minus hop-by-hop headers; every HTTP/1.1 client must accept 1xx before the final response
                // (RFC 9110 15.2). The final one follows; a retry after it still answers the same request.
                WriteResponseHead(close: false);
                await FlushAsync();
                _recv.AsSpan(_response.Length, _recvCount - _response.Length).CopyTo(_recv);
                _recvCount -= _response.Length;
                if (_recvCount == 0)
                    break;
            }
        }
    }

    /// <summary>Writes the response head and body to the client with the upstream's framing; true when the upstream connection can be reused.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder<>))]
    private async ValueTask<bool> CopyResponseAsync(UpstreamConnection connection)
    {
        var framing = _response.Framing(_head.IsHead);
        var reusable = !_response.Close && !_bodyUnsent;
        // (The rest of a body the upstream did not take is still coming from the client: the connection ends after this.)
        var close = framing == BodyFraming.Close || CloseRequested || _bodyUnsent;
        if (close)
            _closeAfter = true;
        WriteResponseHead(close);
        var leftover = _recv.AsSpan(_response.Length, _recvCount - _response.Length);
        switch (framing)
        {
            case BodyFraming.None:
                reusable &= leftover.IsEmpty;
                await FlushAsync();
                return reusable;

            case BodyFraming.ContentLength:
            {
                var take = (int)Math.Min(leftover.Length, _response.ContentLength);
                reusable &= leftover.Length == take;
                _output.Write(leftover[..take]);
                var remaining = _response.ContentLength - take;
                await FlushAsync();
                while (remaining > 0)
                {
                    var memory = _output.GetMemory();
                    var n = await connection.ReceiveAsync(memory[..(int)Math.Min(memory.Length, remaining)]);
                    if (n == 0)
                        throw new IOException("the upstream closed the connection before the end of the body");
                    _output.Advance(n);
                    remaining -= n;
                    await FlushAsync();
                }

                return reusable;
            }

            case BodyFraming.Chunked:
            {
                var scanner = new ChunkedDecoder();
                var used = scanner.Scan(leftover);
                reusable &= used == leftover.Length;
                _output.Write(leftover[..used]);
                await FlushAsync();
                while (!scanner.Done)
                {
                    var memory = _output.GetMemory();
                    var n = await connection.ReceiveAsync(memory);
                    if (n == 0)
                        throw new IOException("the upstream closed the connection before the last chunk");
                    used = scanner.Scan(memory.Span[..n]);
                    reusable &= used == n;
                    _output.Advance(used);
                    await FlushAsync();
                }

                return reusable;
            }

            default:
            {
                _output.Write(leftover);
                await FlushAsync();
                while (true)
                {
                    var memory = _output.GetMemory();
                    var n = await connection.ReceiveAsync(memory);
                    if (n == 0)
                        return false;
                    _output.Advance(n);
                    await FlushAsync();
                }
            }
        }
    }

    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask FlushAsync()
    {
        var result = await _output.FlushAsync();
        if (result.IsCompleted || result.IsCanceled || _clientGone)
        {
            _clientGone = true;
            throw new ConnectionAbortedException("the client went away");
        }
    }

    /// <summary>
    /// The upstream's head as the client gets it: <c>HTTP/1.1</c>, the status line, every header but the hop-by-hop
    /// ones (the fixed list and any the upstream's <c>Connection</c> names), and <c>Connection: close</c> when this
    /// connection ends after the response.
    /// </summary>
    private void WriteResponseHead(bool close)
    {
        var head = _recv.AsSpan(0, _response.Length);
        var to = _output.GetSpan(head.Length + 32);
        "HTTP/1.1 "u8.CopyTo(to);
        var n = 9;
        var lineEnd = head.IndexOf("\r\n"u8) + 2;
        head[_response.StatusStart..lineEnd].CopyTo(to[n..]);
        n += lineEnd - _response.StatusStart;
        var pos = lineEnd;
        // (Content-Length goes whenever there is a Transfer-Encoding: it never frames the body then.)
        var chunked = _response.Framing(_head.IsHead) == BodyFraming.Chunked || _response.Chunked || _response.OtherTransferEncoding;
        while (pos < head.Length - 2)
        {
            var length = head[pos..].IndexOf("\r\n"u8) + 2;
            var line = head.Slice(pos, length);
            var name = line[..line.IndexOf((byte)':')];
            if (!ResponseHead.IsHopByHop(name, chunked) && !(_response.ConnectionOptions && ResponseHead.NamedInConnection(head, name)))
            {
                line.CopyTo(to[n..]);
                n += length;
            }

            pos += length;
        }

        if (close)
        {
            "Connection: close\r\n"u8.CopyTo(to[n..]);
            n += 19;
        }

        "\r\n"u8.CopyTo(to[n..]);
        _output.Advance(n + 2);
    }
}
