using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Listeners;

/// <summary>
/// The choice between Kestrel's HTTP/2 server and ours (<see cref="Http2ServerConnection"/>), which runs the same
/// <see cref="RequestDelegate"/> Kestrel runs. On the inbound listener, a connection whose first SETTINGS carries
/// <see cref="OwnClientMarker"/> comes from our own client and is served by ours; every other one (a peer that is not
/// Weft) goes to Kestrel untouched. On the outbound and upstream listeners every h2c connection is the local app's and
/// is served by ours. <c>WEFT_FAST_H2_SERVER=0</c> sends them all to Kestrel.
/// </summary>
internal sealed class OwnH2Server
{
    /// <summary>The longest first SETTINGS we wait for: far more entries than any client sends.</summary>
    private const int MaxFirstSettings = 36 * 6;

    private long _served;
    private long _kestrel;
    private long _appServed;

    public static bool EnabledByEnvironment => Environment.GetEnvironmentVariable("WEFT_FAST_H2_SERVER") != "0";

    /// <summary>
    /// Whether the connections ours serves complete inline on the epoll engine's thread (<c>WEFT_FAST_H2_INLINE=0</c>:
    /// on the thread pool, to compare). Every stream's handler then runs from the engine's completion up to its first
    /// wait that does not complete at once, as the HTTP/1.1 fast path does: no thread-pool hop per read (the two-hop
    /// profile had the server sidecar spend about 17% of its CPU on that hop, spinning workers and sched_yield). The
    /// pipeline's work is non-blocking (intentions, metrics, the access log's bounded channel, the raw HTTP/1.1 client);
    /// what goes to YARP continues on the thread pool once its sockets complete there. The TLS handshake before it
    /// stays on the thread pool: Kestrel's TLS middleware runs before the listener knows whose connection it is.
    /// </summary>
    public static bool InlineByEnvironment { get; } = Environment.GetEnvironmentVariable("WEFT_FAST_H2_INLINE") != "0";

    /// <summary>
    /// Set once the pipeline exists (after Kestrel's listeners are configured, before it accepts): what Kestrel runs for a
    /// request, returning a <see cref="ValueTask"/> (the pipeline's is pooled).
    /// </summary>
    public Func<HttpContext, ValueTask>? Application { get; set; }

    /// <summary>Inbound HTTP/2 connections served by ours.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Inbound HTTP/2 connections left to Kestrel.</summary>
    public long Kestrel => Interlocked.Read(ref _kestrel);

    /// <summary>The app's h2c connections (outbound and upstream listeners) served by ours.</summary>
    public long AppServed => Interlocked.Read(ref _appServed);

    /// <summary>
    /// Serves an inbound connection with ours when its first SETTINGS is marked and returns true once it is done; false
    /// (with nothing consumed) when Kestrel is to serve it. <paramref name="connection"/> starts with the HTTP/2 preface.
    /// </summary>
    public async ValueTask<bool> TryServeAsync(ConnectionContext connection, TimeProvider time)
    {
        if (Application is not { } application || !await IsMarkedAsync(connection.Transport.Input, time))
        {
            Interlocked.Increment(ref _kestrel);
            return false;
        }

        Interlocked.Increment(ref _served);
        await ServeAsync(connection, application, time);
        return true;
    }

    /// <summary>
    /// Serves the app's h2c connection (prior knowledge, its preface still unread) with ours and returns true once it is
    /// done; false before the pipeline exists, for Kestrel to serve it.
    /// </summary>
    public async ValueTask<bool> TryServeAppAsync(ConnectionContext connection, TimeProvider time)
    {
        if (Application is not { } application)
            return false;
        Interlocked.Increment(ref _appServed);
        await ServeAsync(connection, application, time);
        return true;
    }

    /// <summary>Keep-alive PINGs on the connections it serves (default: off).</summary>
    public Http2.Http2KeepAlive KeepAlive { get; init; }

    private Task ServeAsync(ConnectionContext connection, Func<HttpContext, ValueTask> application, TimeProvider time)
    {
        if (InlineByEnvironment)
            FastPath.InlineCompletions.Set(connection.Features, true);
        return new Http2ServerConnection(connection, application, time, KeepAlive).ServeAsync();
    }

    /// <summary>Peeks at the preface and the first frame, bounded in size and time; consumes nothing.</summary>
    internal static async ValueTask<bool> IsMarkedAsync(PipeReader input, TimeProvider time)
    {
        using var timeout = new CancellationTokenSource(ListenerConnections.FirstBytesTimeout, time);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            var verdict = Judge(result.Buffer);
            if (verdict is not null || result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(result.Buffer.Start);
                return verdict == true;
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>True: marked; false: not; null: not enough bytes yet.</summary>
    private static bool? Judge(ReadOnlySequence<byte> buffer)
    {
        var prefaceLength = Frames.ClientPreface.Length;
        if (buffer.Length < prefaceLength + FrameHeader.Size)
            return null;
        Span<byte> head = stackalloc byte[FrameHeader.Size];
        buffer.Slice(prefaceLength, FrameHeader.Size).CopyTo(head);
        var header = FrameHeader.Read(head);
        if (header.Type != FrameType.Settings || header.StreamId != 0 || (header.Flags & FrameFlags.Ack) != 0
            || header.Length > MaxFirstSettings || header.Length % 6 != 0)
            return false;
        if (buffer.Length < prefaceLength + FrameHeader.Size + header.Length)
            return null;
        Span<byte> payload = stackalloc byte[header.Length];
        buffer.Slice(prefaceLength + FrameHeader.Size, header.Length).CopyTo(payload);
        for (; !payload.IsEmpty; payload = payload[6..])
        {
            if ((SettingId)BinaryPrimitives.ReadUInt16BigEndian(payload) == OwnClientMarker.Setting
                && BinaryPrimitives.ReadUInt32BigEndian(payload[2..]) == OwnClientMarker.Value)
                return true;
        }

        return false;
    }
}
