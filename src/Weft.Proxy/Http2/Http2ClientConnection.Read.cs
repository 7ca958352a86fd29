namespace Weft.Proxy.Http2;

/// <summary>The read loop: frames from the server, applied under the lock, their waiters completed after it.</summary>
internal sealed partial class Http2ClientConnection
{
    private byte[] _read = new byte[2 * (MaxFrameSize + FrameHeader.Size)];
    private int _readStart;
    private int _readEnd;

    private async ValueTask ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                if (_readEnd == _read.Length)
                {
                    _read.AsSpan(_readStart, _readEnd - _readStart).CopyTo(_read);
                    _readEnd -= _readStart;
                    _readStart = 0;
                }

                var n = await _transport.ReadAsync(_read.AsMemory(_readEnd));
                if (_failure is not null)
                    return; // failed meanwhile, its GOAWAY still being written: nothing more is read
                if (n == 0)
                {
                    Fail(new IOException("the server closed the connection"), Http2ErrorCode.NoError);
                    return;
                }

                _readEnd += n;
                Received();
                try
                {
                    while (_readEnd - _readStart >= FrameHeader.Size)
                    {
                        var header = FrameHeader.Read(_read.AsSpan(_readStart));
                        if (header.Length > MaxFrameSize)
                            throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"a {header.Type} frame of {header.Length} bytes is over our MAX_FRAME_SIZE");
                        if (_readEnd - _readStart < FrameHeader.Size + header.Length)
                            break;
                        var payload = _read.AsSpan(_readStart + FrameHeader.Size, header.Length);
                        _readStart += FrameHeader.Size + header.Length;
                        DispatchFrame(header, payload);
                        if (_failure is not null)
                            return;
                    }
                }
                finally
                {
                    CompleteDeferredHeads();
                }

                if (_readStart == _readEnd)
                    _readStart = _readEnd = 0;
            }
        }
        catch (Http2ProtocolException e)
        {
            Fail(new IOException($"HTTP/2 protocol error from the server: {e.Message}", e), e.Code);
        }
        catch (Exception e)
        {
            Fail(e is IOException ? e : new IOException("reading from the server failed", e), Http2ErrorCode.NoError);
        }
    }

    private protected override void OnData(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "DATA on stream 0");
        var data = FramePayload.Unpad(header, payload, out var padding);
        var end = (header.Flags & FrameFlags.EndStream) != 0;
        Http2ClientStream? stream;
        var complete = -1;
        var queued = false;
        Exception? fail = null;
        lock (_sync)
        {
            _connectionReceiveWindow -= payload.Length;
            if (_connectionReceiveWindow < 0)
                throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, "DATA beyond the connection's window");
            if (!_streams.TryGetValue(header.StreamId, out stream) || stream.ResponseEnded)
            {
                if (NeverOpenedLocked(header.StreamId))
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"DATA on stream {header.StreamId}, never opened");
                // A stream we reset or released: its bytes are nobody's, so the connection gets them back at once.
                _connectionCredit += payload.Length;
                queued = CreditConnectionLocked();
                stream = null;
            }
            else if ((stream.ReceiveWindow -= payload.Length) < 0)
            {
                throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, $"DATA beyond stream {header.StreamId}'s window");
            }
            else if (!stream.HeadReceived || stream.ContentLength >= 0 && stream.CountBody(data.Length, end) is not null)
            {
                _connectionCredit += payload.Length;
                CreditConnectionLocked();
                fail = stream.Error ??= new Http2StreamException(Http2ErrorCode.ProtocolError, stream.HeadReceived
                    ? $"a malformed response: {stream.BodyLengthError(end)}"
                    : "the server sent DATA before the response head");
                ResetLocked(stream, Http2ErrorCode.ProtocolError);
                queued = true;
            }
            else
            {
                // Padding is never the consumer's: credited now.
                if (padding > 0)
                    queued |= CreditLocked(stream, padding);
                var taken = 0;
                if (stream.ReadWaiting && !stream.WaitingForHead && data.Length > 0)
                {
                    var into = stream.ReadInto;
                    taken = Math.Min(data.Length, into.Length);
                    data[..taken].CopyTo(into.Span);
                    stream.ReadWaiting = false;
                    stream.ReadInto = default;
                    complete = taken;
                    queued |= CreditLocked(stream, taken);
                }

                if (taken < data.Length)
                    stream.Append(data[taken..]);
                if (end)
                {
                    stream.ResponseEnded = true;
                    if (stream.RequestEnded)
                        _streams.Remove(stream.Id);
                    if (stream.ReadWaiting && !stream.WaitingForHead)
                    {
                        stream.ReadWaiting = false;
                        stream.ReadInto = default;
                        complete = 0;
                    }
                }
            }
        }

        if (queued)
            StartFlush();
        if (fail is not null)
            Wake(stream!, fail);
        else if (stream is not null && complete >= 0)
            stream.CompleteRead(complete);
    }

    /// <summary>An id the server may not send on: even (we never enable push) or beyond the last stream we opened (5.1, idle).</summary>
    private bool NeverOpenedLocked(int streamId) => (streamId & 1) == 0 || streamId >= _nextStreamId;

    private bool CreditConnectionLocked()
    {
        if (_connectionCredit < _creditThreshold)
            return false;
        _writes.Length += Frames.WriteWindowUpdate(_writes.Reserve(FrameHeader.Size + 4), 0, _connectionCredit);
        _connectionReceiveWindow += _connectionCredit;
        _connectionCredit = 0;
        return true;
    }

    private protected override void OnHeaders(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "HEADERS on stream 0");
        var block = FramePayload.HeadersFragment(header, payload, Http2ErrorCode.FrameSizeError);
        if (_block.TakesWhole(header, block, out var end))
            OnHeaderBlock(header.StreamId, block, end);
    }

    private protected override void OnHeaderBlock(int streamId, ReadOnlySpan<byte> block, bool endStream)
    {
        Http2ClientStream? stream;
        var wake = false;
        Exception? error = null;
        lock (_sync)
        {
            if (!_streams.TryGetValue(streamId, out stream) || stream.ResponseEnded)
            {
                if (NeverOpenedLocked(streamId))
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"HEADERS on stream {streamId}, never opened");
                stream = null;
            }
            else if (stream.HeadReceived)
            {
                stream.InTrailers = true;
            }
            else
            {
                stream.ClearHead();
            }

            // The decoder's table is the connection's: every block is decoded, even one nobody waits for. Under the
            // lock, so a release cannot recycle the stream's head storage meanwhile.
            _decoder.Decode(block, (IHeaderSink?)stream ?? DiscardHeaders.Instance);
            if (stream is null)
                return;
            if (stream.Malformed is not null || endStream && stream.BodyLengthError(end: true) is not null)
            {
                // 8.1.1: a malformed response is a stream error; the caller sees a failure, never a response.
                error = stream.Error ??= new Http2StreamException(Http2ErrorCode.ProtocolError, $"a malformed response: {stream.Malformed ?? stream.BodyLengthError(end: true)}");
                ResetLocked(stream, Http2ErrorCode.ProtocolError);
            }
            else if (stream.InTrailers)
            {
                if (!endStream)
                {
                    error = stream.Error = new Http2StreamException(Http2ErrorCode.ProtocolError, "trailers without END_STREAM");
                    ResetLocked(stream, Http2ErrorCode.ProtocolError);
                }
                else
                {
                    stream.ResponseEnded = true;
                    if (stream.ReadWaiting)
                    {
                        stream.ReadWaiting = false;
                        stream.ReadInto = default;
                        wake = true;
                    }
                }
            }
            else if (stream.Status is < 200 and >= 100 && stream.Status != 101 && !endStream)
            {
                // An informational head: the final one follows.
                stream.ClearHead();
                return;
            }
            else if (stream.Status is < 200)
            {
                error = stream.Error = new Http2StreamException(Http2ErrorCode.ProtocolError, stream.Status == 0 ? "a response head without :status" : $"status {stream.Status} is not allowed here");
                ResetLocked(stream, Http2ErrorCode.ProtocolError);
            }
            else
            {
                stream.HeadReceived = true;
                if (endStream)
                    stream.ResponseEnded = true;
                if (stream.ReadWaiting && stream.WaitingForHead)
                {
                    stream.ReadWaiting = stream.WaitingForHead = false;
                    wake = true;
                }
            }

            if (stream.ResponseEnded && stream.RequestEnded)
                _streams.Remove(streamId);
        }

        if (error is not null)
        {
            StartFlush();
            Wake(stream, error);
        }
        else if (wake)
        {
            // Announced once this read's frames are all applied: a response whose DATA came in the same read is then
            // taken whole by the exchange (one write to its client) instead of a head and a body apart.
            _deferredHeads.Add(stream);
        }
    }

    private readonly List<Http2ClientStream> _deferredHeads = [];

    private void CompleteDeferredHeads()
    {
        if (_deferredHeads.Count == 0)
            return;
        for (var i = 0; i < _deferredHeads.Count; i++)
        {
            var stream = _deferredHeads[i];
            stream.CompleteRead(stream.Status);
        }

        _deferredHeads.Clear();
    }

    private protected override void OnReset(int streamId, Http2ErrorCode code)
    {
        Http2ClientStream? stream;
        Exception? error = null;
        lock (_sync)
        {
            if (!_streams.TryGetValue(streamId, out stream))
            {
                if (NeverOpenedLocked(streamId))
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"RST_STREAM on stream {streamId}, never opened");
                return;
            }

            _streams.Remove(streamId);
            if (stream.ResponseEnded && code == Http2ErrorCode.NoError)
            {
                // The whole response came: the server needs no more of the request (RFC 9113 8.1).
                stream.RequestEnded = true;
                error = new Http2StreamException(code, "the server answered before the whole request body was sent");
            }
            else
            {
                error = stream.Error ??= code == Http2ErrorCode.RefusedStream
                    ? new Http2NotProcessedException("the server refused the stream (REFUSED_STREAM)")
                    : new Http2StreamException(code, $"the server reset the stream ({code})");
                stream.RequestEnded = stream.ResponseEnded = true;
            }
        }

        if (stream.Error is null)
        {
            // Only the request body's sender can be waiting.
            bool window;
            lock (_sync)
            {
                window = stream.WindowWaiting;
                stream.WindowWaiting = false;
                _windowWaiters?.Remove(stream);
            }

            if (window)
                stream.CompleteWindow(error);
            return;
        }

        Wake(stream, error);
    }

    private protected override void OnSettings(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (Http2Settings.IsAck(header, payload))
            return;

        List<Http2ClientStream>? wake;
        lock (_sync)
        {
            var windowDelta = ApplySettingsLocked(payload, _onSetting, _streams);
            wake = windowDelta > 0 ? TakeWindowWaitersLocked() : null;
        }

        StartFlush();
        _settingsReceived.TrySetResult();
        WakeWindows(wake);
        Changed?.Invoke(this);
    }

    private void OnSetting(SettingId id, uint value)
    {
        switch (id)
        {
            case SettingId.MaxConcurrentStreams:
                _maxConcurrent = (int)Math.Min(value, int.MaxValue);
                break;
            case SettingId.InitialWindowSize:
                SetPeerInitialWindow(value, "INITIAL_WINDOW_SIZE over 2^31-1");
                break;
            case SettingId.MaxFrameSize:
                _peerMaxFrameSize = CheckedMaxFrameSize(value);
                break;
            case SettingId.EnablePush:
                if (value > 1)
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "ENABLE_PUSH other than 0 or 1");
                break;
            default:
                // HEADER_TABLE_SIZE: our encoder never indexes, so any size suits it; the rest do not concern a client.
                break;
        }
    }

    private protected override void OnGoAway(int lastStreamId, Http2ErrorCode code)
    {
        List<Http2ClientStream> refused = [];
        bool close;
        lock (_sync)
        {
            _goingAway = true;
            _goAwayLastId = Math.Min(_goAwayLastId, lastStreamId);
            foreach (var stream in _streams.Values)
            {
                if (stream.Id > _goAwayLastId)
                    refused.Add(stream);
            }

            foreach (var stream in refused)
            {
                _streams.Remove(stream.Id);
                stream.Error ??= new Http2NotProcessedException($"the server went away ({code}) before processing this stream");
                stream.RequestEnded = stream.ResponseEnded = true;
            }

            close = _open == 0;
        }

        foreach (var stream in refused)
            Wake(stream, stream.Error!);
        if (close)
            Close();
        else
            Changed?.Invoke(this);
    }

    private protected override void OnWindowUpdate(int streamId, int increment)
    {
        List<Http2ClientStream>? wake = null;
        lock (_sync)
        {
            if (streamId == 0)
            {
                AddConnectionSendWindowLocked(increment, "a WINDOW_UPDATE of 0 for the connection");
                wake = TakeWindowWaitersLocked();
            }
            else if (!_streams.TryGetValue(streamId, out var stream))
            {
                if (NeverOpenedLocked(streamId))
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"WINDOW_UPDATE on stream {streamId}, never opened");
            }
            else
            {
                if (increment == 0)
                {
                    stream.Error ??= new Http2StreamException(Http2ErrorCode.ProtocolError, "a WINDOW_UPDATE of 0");
                    ResetLocked(stream, Http2ErrorCode.ProtocolError);
                    (wake = []).Add(stream);
                }
                else
                {
                    stream.SendWindow += increment;
                    if (stream.SendWindow > int.MaxValue)
                    {
                        stream.Error ??= new Http2StreamException(Http2ErrorCode.FlowControlError, "a stream's send window over 2^31-1");
                        ResetLocked(stream, Http2ErrorCode.FlowControlError);
                        // Whoever waits on the stream (its head, its body, its window) learns of the reset.
                        (wake = []).Add(stream);
                    }
                    else if (stream.WindowWaiting)
                    {
                        stream.WindowWaiting = false;
                        _windowWaiters?.Remove(stream);
                        (wake = []).Add(stream);
                    }
                }
            }
        }

        if (wake is not null && wake.Count > 0 && wake[0].Error is not null && streamId != 0)
        {
            StartFlush();
            Wake(wake[0], wake[0].Error!);
            return;
        }

        WakeWindows(wake);
    }

    private List<Http2ClientStream>? TakeWindowWaitersLocked()
    {
        if (_windowWaiters is not { Count: > 0 } waiters)
            return null;
        _windowWaiters = null;
        foreach (var stream in waiters)
            stream.WindowWaiting = false;
        return waiters;
    }

    private static void WakeWindows(List<Http2ClientStream>? streams)
    {
        if (streams is null)
            return;
        foreach (var stream in streams)
            stream.CompleteWindow(null);
    }

    /// <summary>Takes the fields of a header block nobody waits for (its stream was reset or released).</summary>
    private sealed class DiscardHeaders : IHeaderSink
    {
        public static readonly DiscardHeaders Instance = new();

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
