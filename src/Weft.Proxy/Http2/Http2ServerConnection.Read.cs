using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Weft.Proxy.Http2;

/// <summary>The read loop: frames from the client, applied under the lock; handlers and body readers run after it.</summary>
internal sealed partial class Http2ServerConnection
{
    private readonly byte[] _frame = new byte[MaxFrameSize];
    private bool _prefaceRead;
    private bool _settingsSeen;

    private async Task ReadLoopAsync()
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _input.ReadAsync();
            }
            catch (Exception)
            {
                return; // the connection is gone
            }

            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
                Received();
            try
            {
                if (!Process(ref buffer) || result.IsCompleted || result.IsCanceled)
                    return;
            }
            catch (Http2ProtocolException e)
            {
                lock (_sync)
                    FailLocked(e.Code);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A bug of ours must not take the sidecar down or leave the client waiting: the connection ends.
                lock (_sync)
                    FailLocked(Http2ErrorCode.InternalError);
                return;
            }
            finally
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }

    /// <summary>Applies the whole frames in <paramref name="buffer"/>, leaving it at the first incomplete one; false to stop reading.</summary>
    private bool Process(ref ReadOnlySequence<byte> buffer)
    {
        lock (_sync)
        {
            if (_stopping || _failed)
                return false;
        }

        if (!_prefaceRead)
        {
            if (buffer.Length < Frames.ClientPreface.Length)
                return true;
            Span<byte> preface = stackalloc byte[Frames.ClientPreface.Length];
            buffer.Slice(0, preface.Length).CopyTo(preface);
            if (!preface.SequenceEqual(Frames.ClientPreface))
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "not the HTTP/2 client preface");
            buffer = buffer.Slice(preface.Length);
            _prefaceRead = true;
        }

        Span<byte> head = stackalloc byte[FrameHeader.Size];
        while (buffer.Length >= FrameHeader.Size)
        {
            buffer.Slice(0, FrameHeader.Size).CopyTo(head);
            var header = FrameHeader.Read(head);
            if (header.Length > MaxFrameSize)
                throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"a {header.Type} frame of {header.Length} bytes is over our MAX_FRAME_SIZE");
            if (buffer.Length < FrameHeader.Size + header.Length)
                break;
            var payloadSequence = buffer.Slice(FrameHeader.Size, header.Length);
            ReadOnlySpan<byte> payload;
            if (payloadSequence.IsSingleSegment)
            {
                payload = payloadSequence.FirstSpan;
            }
            else
            {
                payloadSequence.CopyTo(_frame);
                payload = _frame.AsSpan(0, header.Length);
            }

            buffer = buffer.Slice(FrameHeader.Size + header.Length);
            OnFrame(header, payload);
            lock (_sync)
            {
                if (_stopping || _failed)
                    return false;
            }
        }

        return true;
    }

    private void OnFrame(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (!_settingsSeen)
        {
            if (header.Type != FrameType.Settings || (header.Flags & FrameFlags.Ack) != 0)
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "the connection preface did not start with SETTINGS");
            _settingsSeen = true;
        }

        DispatchFrame(header, payload);
    }

    private protected override void OnHeaders(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0 || (header.StreamId & 1) == 0)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"HEADERS on stream {header.StreamId}");
        var block = FramePayload.HeadersFragment(header, payload, Http2ErrorCode.ProtocolError);
        CheckSelfDependency(header, payload);
        if (_block.TakesWhole(header, block, out var endStream))
            OnHeaderBlock(header.StreamId, block, endStream);
    }

    private protected override void OnHeaderBlock(int id, ReadOnlySpan<byte> block, bool endStream)
    {
        bool known;
        Http2ErrorCode? refuse = null;
        lock (_sync)
        {
            known = id <= _lastStreamId;
            if (!known)
            {
                // Handlers of streams the client already reset still count: opening and resetting streams in a loop
                // (CVE-2023-44487) cannot run more than twice the limit at once.
                if (_goingAway || _streams.Count >= MaxConcurrentStreams || _running >= 2 * MaxConcurrentStreams)
                    refuse = Http2ErrorCode.RefusedStream;
                else if (id == _selfDependent)
                    refuse = Http2ErrorCode.ProtocolError; // 5.3.1
                _lastStreamId = id;
            }
        }

        if (known)
        {
            OnTrailerBlock(id, block, endStream);
            return;
        }

        if (refuse is { } code)
        {
            _decoder.Decode(block, IgnoredHeaders.Instance);
            lock (_sync)
                WriteResetLocked(id, code);
            StartFlush();
            return;
        }

        var stream = RentStream();
        stream.Begin(id, endStream);
        _decoder.Decode(block, stream);
        var error = stream.ValidateRequest();
        lock (_sync)
        {
            stream.SendWindow = _peerInitialWindow;
            stream.ReceiveWindow = StreamWindow;
            stream.RequestEnded = endStream;
            _streams[id] = stream;
            _running++;
            if (error is not null)
                ResetLocked(stream, error.Value);
        }

        if (error is not null)
        {
            StartFlush();
            stream.Abort(new Http2ProtocolException(error.Value, "a malformed request"));
            StreamFinished(stream);
            return;
        }

        // Inline: the handler runs until its first incomplete await, then the loop reads on.
        stream.Start(_application);
    }

    /// <summary>
    /// A header block on a stream id already used: the request's trailers, which must end the stream and carry no
    /// pseudo-header (RFC 9113 8.1). The block is decoded whatever happens, to keep HPACK in step. On a stream we reset
    /// it is dropped (5.1); on a half-closed (remote) one it is a stream error STREAM_CLOSED (5.1), without END_STREAM a
    /// malformed request (8.1.1); on any other it is a connection error: the stream is closed (5.1 allows one) or its id
    /// was skipped (5.1.1), which the server does not tell apart, so PROTOCOL_ERROR for both.
    /// </summary>
    private void OnTrailerBlock(int id, ReadOnlySpan<byte> block, bool endStream)
    {
        Http2ServerStream? open;
        bool ours;
        lock (_sync)
        {
            _streams.TryGetValue(id, out open);
            ours = open is null && ResetByUsLocked(id);
        }

        if (open is null || open.RequestEnded || !endStream)
        {
            _decoder.Decode(block, IgnoredHeaders.Instance);
            if (open is not null)
                ResetStream(open, open.RequestEnded ? Http2ErrorCode.StreamClosed : Http2ErrorCode.ProtocolError);
            else if (!ours)
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"a header block on stream {id}, closed or skipped (stream ids only increase)");
            return;
        }

        bool wellFormed;
        open.BeginRequestTrailers();
        try
        {
            _decoder.Decode(block, open);
        }
        finally
        {
            wellFormed = open.EndRequestTrailers();
        }

        if (wellFormed)
            EndRequest(open);
        else
            ResetStream(open, Http2ErrorCode.ProtocolError);
    }

    private protected override void OnData(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "DATA on stream 0");
        var data = FramePayload.Unpad(header, payload, out _);
        var end = (header.Flags & FrameFlags.EndStream) != 0;
        Http2ServerStream? stream;
        Http2ServerStream? halfClosed = null;
        Http2ErrorCode? reset = null;
        lock (_sync)
        {
            _connectionReceiveWindow -= payload.Length;
            if (_connectionReceiveWindow < 0)
                throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, "DATA beyond the connection's window");
            if (!_streams.TryGetValue(header.StreamId, out stream) || stream.RequestEnded)
            {
                if (header.StreamId > _lastStreamId)
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "DATA on an idle stream");
                // A stream already reset or finished: its bytes are nobody's, so the connection gets them back at once.
                _connectionCredit += payload.Length;
                CreditConnectionLocked();
                // Not open: a stream error STREAM_CLOSED (6.1), unless we reset the stream and this was on its way (5.1).
                if (stream is not null)
                    halfClosed = stream;
                else if (!ResetByUsLocked(header.StreamId))
                    WriteResetLocked(header.StreamId, Http2ErrorCode.StreamClosed);
                stream = null;
            }
            else
            {
                stream.ReceiveWindow -= payload.Length;
                if (stream.ReceiveWindow < 0)
                    reset = Http2ErrorCode.FlowControlError;
                else
                {
                    // Padding is never the app's to consume: credited now.
                    _connectionCredit += payload.Length - data.Length;
                    stream.Buffered += data.Length;
                    stream.Received += data.Length;
                    if (stream.ContentLength >= 0 && (stream.Received > stream.ContentLength || end && stream.Received != stream.ContentLength))
                        reset = Http2ErrorCode.ProtocolError;
                    else if (end)
                        EndRequestLocked(stream);
                }
            }
        }

        if (stream is null)
        {
            StartFlush();
            if (halfClosed is not null)
                ResetStream(halfClosed, Http2ErrorCode.StreamClosed);
            return;
        }

        if (reset is { } code)
        {
            ResetStream(stream, code);
            return;
        }

        stream.ReceiveData(data, end);
    }

    private void EndRequest(Http2ServerStream stream)
    {
        bool malformed;
        lock (_sync)
        {
            malformed = stream.ContentLength >= 0 && stream.Received != stream.ContentLength;
            if (!malformed)
                EndRequestLocked(stream);
        }

        if (malformed)
            ResetStream(stream, Http2ErrorCode.ProtocolError);
        else
            stream.ReceiveData([], end: true);
    }

    /// <summary>The client's END_STREAM: closed both ways once the response ended too.</summary>
    private void EndRequestLocked(Http2ServerStream stream)
    {
        stream.RequestEnded = true;
        stream.RequestTrailersComplete();
        if (stream.ResponseEnded)
            _streams.Remove(stream.Id);
    }

    private protected override void OnReset(int id, Http2ErrorCode code)
    {
        Http2ServerStream? stream;
        lock (_sync)
        {
            if (id > _lastStreamId)
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "RST_STREAM on an idle stream");
            if (!_streams.TryGetValue(id, out stream))
                return;
            stream.RequestEnded = stream.ResponseEnded = stream.Reset = true;
            _streams.Remove(id);
        }

        stream.Abort(new ConnectionAbortedException("the client reset the stream"));
    }

    private protected override void OnSettings(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (Http2Settings.IsAck(header, payload))
        {
            Volatile.Write(ref _settingsAckDue, false);
            return;
        }

        List<TaskCompletionSource>? wake;
        lock (_sync)
        {
            var windowDelta = ApplySettingsLocked(payload, _onSetting, _streams);
            wake = windowDelta > 0 ? TakeWindowWaitersLocked(null) : null;
        }

        StartFlush();
        Wake(wake);
    }

    private void OnSetting(SettingId id, uint value)
    {
        switch (id)
        {
            case SettingId.EnablePush when value > 1:
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "ENABLE_PUSH above 1");
            case SettingId.InitialWindowSize:
                SetPeerInitialWindow(value, "INITIAL_WINDOW_SIZE above 2^31-1");
                break;
            case SettingId.MaxFrameSize:
                // Our frames stay at our own receive size: smaller frames interleave streams better.
                _peerMaxFrameSize = Math.Min(CheckedMaxFrameSize(value), MaxFrameSize);
                break;
            default:
                break; // the rest bound what we send, which stays small; unknown ones are ignored (6.5.2)
        }
    }

    /// <summary>The client sends no more streams; those open finish. Nothing to change here.</summary>
    private protected override void OnGoAway(int lastStreamId, Http2ErrorCode code)
    {
    }

    private protected override void OnWindowUpdate(int id, int increment)
    {
        List<TaskCompletionSource>? wake;
        Http2ServerStream? broken = null;
        lock (_sync)
        {
            if (id == 0)
            {
                AddConnectionSendWindowLocked(increment, "a connection WINDOW_UPDATE of 0");
                wake = TakeWindowWaitersLocked(null);
            }
            else
            {
                if (id > _lastStreamId)
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "WINDOW_UPDATE on an idle stream");
                if (!_streams.TryGetValue(id, out var stream))
                    return;
                if (increment == 0 || stream.SendWindow + increment > int.MaxValue)
                {
                    broken = stream;
                    wake = null;
                }
                else
                {
                    stream.SendWindow += increment;
                    wake = TakeWindowWaitersLocked(stream);
                }
            }
        }

        if (broken is not null)
            ResetStream(broken, increment == 0 ? Http2ErrorCode.ProtocolError : Http2ErrorCode.FlowControlError);
        Wake(wake);
    }

    private List<TaskCompletionSource>? TakeWindowWaitersLocked(Http2ServerStream? only)
    {
        List<TaskCompletionSource>? wake = null;
        foreach (var stream in only is null ? [.. _streams.Values] : (IEnumerable<Http2ServerStream>)[only])
        {
            if (stream.WindowWaiter is { } waiter)
            {
                stream.WindowWaiter = null;
                (wake ??= []).Add(waiter);
            }
        }

        return wake;
    }

    private static void Wake(List<TaskCompletionSource>? waiters)
    {
        if (waiters is null)
            return;
        foreach (var waiter in waiters)
            waiter.TrySetResult();
    }

    private sealed class IgnoredHeaders : IHeaderSink
    {
        public static readonly IgnoredHeaders Instance = new();

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
