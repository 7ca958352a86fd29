using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Weft.Bench.Proxy;

/// <summary>
/// Open-loop HTTP/1.1 load at a fixed rate, as wrk2 does (wrk2 is not in Debian): request i is due at
/// start + i / rate whatever happened to earlier ones, goes out on any idle keep-alive connection, and its
/// latency is counted from when it was due, so a stall shows up as latency rather than as fewer requests.
/// The latency from when it was actually sent is kept too: the sender wakes on a ~1 ms timer, so "from due"
/// includes up to a tick of the generator's own lateness on every target alike.
/// Every latency is kept (10,000 doubles a run), so percentiles are exact rather than bucketed.
/// </summary>
internal static class OpenLoop
{
    public static async Task<OpenLoopResult> RunAsync(Uri url, string? host, int rate, int seconds, int connections)
    {
        var request = Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {host ?? url.Authority}\r\n\r\n");
        var total = rate * seconds;
        var fromDue = new double[total];
        var fromSend = new double[total];
        Array.Fill(fromDue, double.NaN);
        Array.Fill(fromSend, double.NaN);
        var idle = Channel.CreateUnbounded<Connection>();
        var all = new List<Connection>();
        for (var i = 0; i < connections; i++)
        {
            var c = await Connection.OpenAsync(url);
            all.Add(c);
            idle.Writer.TryWrite(c);
        }

        long errors = 0, waitedForConnection = 0;
        var pending = new List<Task>(total);
        var interval = (double)Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            var due = start + (long)(i * interval);
            // Timers tick in whole milliseconds: wait a tick at a time until due, never send early.
            while (Stopwatch.GetTimestamp() < due) await Task.Delay(1);
            if (!idle.Reader.TryRead(out var connection))
            {
                waitedForConnection++;
                connection = await idle.Reader.ReadAsync();
            }

            var index = i;
            pending.Add(Task.Run(async () =>
            {
                var sent = Stopwatch.GetTimestamp();
                var ok = await connection.ExchangeAsync(request);
                var end = Stopwatch.GetTimestamp();
                if (ok)
                {
                    fromDue[index] = Stats.Ms(due, end);
                    fromSend[index] = Stats.Ms(sent, end);
                    idle.Writer.TryWrite(connection);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                    idle.Writer.TryWrite(await Connection.OpenAsync(url));
                    connection.Dispose();
                }
            }));
        }

        var sendSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var finished = await Task.WhenAny(Task.WhenAll(pending), Task.Delay(TimeSpan.FromSeconds(10)));
        var unanswered = pending.Count(t => !t.IsCompleted);
        foreach (var c in all) c.Dispose();
        return new OpenLoopResult(
            total,
            errors + unanswered,
            total / sendSeconds,
            fromDue.Where(double.IsFinite).ToList(),
            fromSend.Where(double.IsFinite).ToList(),
            waitedForConnection);
    }

    /// <summary>One keep-alive connection: writes a request, reads one response (Content-Length or chunked).</summary>
    private sealed class Connection : IDisposable
    {
        private readonly Socket _socket;
        private readonly byte[] _buffer = new byte[16 * 1024];

        private Connection(Socket socket) => _socket = socket;

        public static async Task<Connection> OpenAsync(Uri url)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(url.Host, url.Port);
            return new Connection(socket);
        }

        public async Task<bool> ExchangeAsync(byte[] request)
        {
            try
            {
                await _socket.SendAsync(request);
                var length = 0;
                while (true)
                {
                    var read = await _socket.ReceiveAsync(_buffer.AsMemory(length));
                    if (read == 0) return false;
                    length += read;
                    if (Complete(_buffer.AsSpan(0, length)) is { } ok) return ok;
                    if (length == _buffer.Length) return false;
                }
            }
            catch (SocketException)
            {
                return false;
            }
        }

        /// <summary>null: need more bytes; true: a whole 200; false: a whole response that is not a 200.</summary>
        private static bool? Complete(ReadOnlySpan<byte> data)
        {
            var headerEnd = data.IndexOf("\r\n\r\n"u8);
            if (headerEnd < 0) return null;
            var head = Encoding.ASCII.GetString(data[..headerEnd]);
            var status = head.Length > 12 && head.AsSpan(9, 3).SequenceEqual("200");
            var body = data[(headerEnd + 4)..];
            foreach (var line in head.Split("\r\n"))
            {
                if (line.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase))
                    return body.Length >= int.Parse(line["content-length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture) ? status : null;
                if (line.StartsWith("transfer-encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                    return body.EndsWith("0\r\n\r\n"u8) ? status : null;
            }

            return status; // No body framing: a bodiless response.
        }

        public void Dispose() => _socket.Dispose();
    }
}

internal sealed record OpenLoopResult(int Scheduled, long Errors, double SentPerSecond, List<double> FromDueMs, List<double> FromSendMs, long WaitedForConnection);
