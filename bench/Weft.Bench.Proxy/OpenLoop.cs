using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Weft.Bench.Proxy;

/// <summary>
/// Open-loop HTTP/1.1 load at a fixed rate, as wrk2 does (wrk2 is not in Debian): request i is due at
/// start + i / rate whatever happened to earlier ones, and goes out on any idle keep-alive connection.
/// Plain threads rather than async so the timestamps are the kernel's wake-ups, not a thread pool's: one sender
/// thread sleeps with nanosleep(2) until each request is due and writes it; each connection has a thread
/// blocked in recv(2) that stamps the response's end. Latency is counted from when the request was sent, and
/// also from when it was due (wrk2's way: a stall then shows up as latency rather than as fewer requests).
/// Every latency is kept (10,000 a run), so percentiles are exact rather than bucketed.
/// </summary>
internal static partial class OpenLoop
{
    public static OpenLoopResult Run(Uri url, string? host, int rate, int seconds, int connections)
    {
        var request = Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {host ?? url.Authority}\r\n\r\n");
        var total = rate * seconds;
        var run = new State(total);
        var idle = new ConcurrentQueue<Connection>();
        var all = Enumerable.Range(0, connections).Select(_ => new Connection(url, run, idle)).ToList();
        foreach (var c in all) idle.Enqueue(c);

        long waitedForConnection = 0;
        var interval = (double)Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            var due = start + (long)(i * interval);
            SleepUntil(due);
            Connection? connection;
            if (!idle.TryDequeue(out connection))
            {
                waitedForConnection++;
                while (!idle.TryDequeue(out connection)) SleepUntil(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20_000);
            }

            run.Due[i] = due;
            connection.Send(i, request);
        }

        var sendSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        while (Volatile.Read(ref run.Finished) < total && Stopwatch.GetTimestamp() < deadline)
            SleepUntil(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 1_000);
        foreach (var c in all) c.Dispose();
        var fromSend = new List<double>(total);
        var fromDue = new List<double>(total);
        for (var i = 0; i < total; i++)
        {
            if (run.End[i] == 0) continue;
            fromSend.Add(Stats.Ms(run.Sent[i], run.End[i]));
            fromDue.Add(Stats.Ms(run.Due[i], run.End[i]));
        }

        return new OpenLoopResult(total, total - fromSend.Count, total / sendSeconds, fromDue, fromSend, waitedForConnection);
    }

    private static void SleepUntil(long timestamp)
    {
        var ticks = timestamp - Stopwatch.GetTimestamp();
        if (ticks <= 0) return;
        var ns = ticks * 1_000_000_000 / Stopwatch.Frequency;
        var spec = new TimeSpec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
        _ = NanoSleep(ref spec, IntPtr.Zero);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(ref TimeSpec request, IntPtr remaining);

    /// <summary>Per-request timestamps, written by the sender (due, sent) and the connection threads (end).</summary>
    private sealed class State(int total)
    {
        public readonly long[] Due = new long[total];
        public readonly long[] Sent = new long[total];
        public readonly long[] End = new long[total];
        public int Finished;
    }

    /// <summary>One keep-alive connection and the thread that reads its responses (Content-Length or chunked).</summary>
    private sealed class Connection : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        private readonly State _run;
        private readonly ConcurrentQueue<Connection> _idle;
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _index;

        public Connection(Uri url, State run, ConcurrentQueue<Connection> idle)
        {
            _run = run;
            _idle = idle;
            _socket.Connect(url.Host, url.Port);
            new Thread(Receive) { IsBackground = true, Name = "open-loop recv" }.Start();
        }

        public void Send(int index, byte[] request)
        {
            // The index is set before the write: the response cannot come before it.
            Volatile.Write(ref _index, index);
            _run.Sent[index] = Stopwatch.GetTimestamp();
            _socket.Send(request);
        }

        private void Receive()
        {
            try
            {
                while (true)
                {
                    var length = 0;
                    bool? complete = null;
                    while (complete is null)
                    {
                        var read = _socket.Receive(_buffer.AsSpan(length));
                        if (read == 0 || (length += read) == _buffer.Length) return;
                        complete = Complete(_buffer.AsSpan(0, length));
                    }

                    var end = Stopwatch.GetTimestamp();
                    var index = Volatile.Read(ref _index);
                    if (complete == true) _run.End[index] = end;
                    Interlocked.Increment(ref _run.Finished);
                    _idle.Enqueue(this);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed at the end of the run, or by the target: its unanswered requests count as errors.
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
                    return body.Length >= int.Parse(line["content-length:".Length..].Trim(), CultureInfo.InvariantCulture) ? status : null;
                if (line.StartsWith("transfer-encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                    return body.EndsWith("0\r\n\r\n"u8) ? status : null;
            }

            return status; // No body framing: a bodiless response.
        }

        public void Dispose() => _socket.Dispose();
    }
}

internal sealed record OpenLoopResult(int Scheduled, long Errors, double SentPerSecond, List<double> FromDueMs, List<double> FromSendMs, long WaitedForConnection);
