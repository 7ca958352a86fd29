using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Listeners;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Observability;

/// <summary>One request as the access log records it; built on the request's path, written by the background writer.</summary>
internal sealed record AccessLogEntry(
    DateTimeOffset Time, string? TraceId, string? Source, string Direction, string Method, string Authority, string Path,
    int Status, string? Error, double DurationMs, string? Upstream, int Retries, long BytesIn, long BytesOut);

/// <summary>
/// JSON lines, one per (sampled) request. The request only builds an entry and offers it to a bounded channel; a
/// background writer formats and writes. When the writer falls behind, entries are dropped and counted
/// (<see cref="Dropped"/>): a slow disk never slows or blocks a request.
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    public const int Capacity = 8192;

    private readonly Channel<AccessLogEntry> _channel = Channel.CreateBounded<AccessLogEntry>(
        new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private readonly double _sampling;
    private readonly Stream _output;
    private readonly bool _ownsOutput;
    private readonly Task _writer;
    private long _dropped;
    private long _written;

    public AccessLog(string path, double sampling)
    {
        _sampling = sampling;
        if (path == "-")
        {
            _output = Console.OpenStandardOutput();
        }
        else
        {
            _output = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 64 * 1024);
            _ownsOutput = true;
        }

        _writer = Task.Run(WriteAsync);
    }

    /// <summary>Entries dropped because the writer was behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Decides whether this request is logged; if so, counts its body bytes both ways.</summary>
    public bool Begin(HttpContext http)
    {
        if (_sampling < 1 && Random.Shared.NextDouble() >= _sampling)
            return false;
        http.Request.Body = new CountingStream(http.Request.Body);
        http.Response.Body = new CountingStream(http.Response.Body);
        return true;
    }

    public void End(ProxyCall call, int status, TimeSpan duration)
    {
        var http = call.Http;
        var request = http.Request;
        var entry = new AccessLogEntry(
            Time: call.Time.GetUtcNow() - duration,
            TraceId: TraceId(call),
            Source: call.Listener.Kind == ListenerKind.Inbound ? PeerIdentity.Of(http)?.Service : null,
            Direction: call.Listener.Kind == ListenerKind.Inbound ? "inbound" : "outbound",
            Method: request.Method,
            Authority: request.Host.Value ?? "",
            Path: request.Path.Value ?? "/",
            Status: status,
            Error: ProxyTracing.ErrorCause(http),
            DurationMs: Math.Round(duration.TotalMilliseconds, 3),
            Upstream: call.Endpoint?.HostPort,
            Retries: Math.Max(0, call.Attempts - 1),
            BytesIn: (request.Body as CountingStream)?.Count ?? 0,
            BytesOut: (http.Response.Body as CountingStream)?.Count ?? 0);
        if (!_channel.Writer.TryWrite(entry))
            Interlocked.Increment(ref _dropped);
    }

    private static string? TraceId(ProxyCall call)
    {
        if (call.Span is { } span)
            return span.TraceId.ToHexString();
        if (call.Trace.Decided)
            return call.Trace.Trace.TraceIdHex();
        // Not traced here: the caller's trace id, as received (version-traceid-spanid-flags).
        var header = call.Http.Request.Headers[ProxyTracing.TraceParent].ToString();
        return header.Length >= 55 && header[2] == '-' && header[35] == '-' ? header.Substring(3, 32) : null;
    }

    private async Task WriteAsync()
    {
        using var json = new Utf8JsonWriter(_output);
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var entry))
            {
                Write(json, entry);
                json.Flush();
                json.Reset();
                _output.WriteByte((byte)'\n');
                Interlocked.Increment(ref _written);
            }

            await _output.FlushAsync();
        }
    }

    private static void Write(Utf8JsonWriter json, AccessLogEntry e)
    {
        json.WriteStartObject();
        json.WriteString("time", e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        Nullable(json, "trace_id", e.TraceId);
        Nullable(json, "source", e.Source);
        json.WriteString("direction", e.Direction);
        json.WriteString("method", e.Method);
        json.WriteString("authority", e.Authority);
        json.WriteString("path", e.Path);
        json.WriteNumber("status", e.Status);
        Nullable(json, "error", e.Error);
        json.WriteNumber("duration_ms", e.DurationMs);
        Nullable(json, "upstream", e.Upstream);
        json.WriteNumber("retries", e.Retries);
        json.WriteNumber("bytes_in", e.BytesIn);
        json.WriteNumber("bytes_out", e.BytesOut);
        json.WriteEndObject();
    }

    private static void Nullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
            json.WriteNull(name);
        else
            json.WriteString(name, value);
    }

    /// <summary>Writes what is queued, then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _writer;
        if (_ownsOutput)
            await _output.DisposeAsync();
        else
            await _output.FlushAsync();
    }
}

/// <summary>A request or response body that counts the bytes passing through it.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Counted(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Counted(count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken);
        Counted(buffer.Length);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    private int Counted(int n)
    {
        _count += n;
        return n;
    }
}
