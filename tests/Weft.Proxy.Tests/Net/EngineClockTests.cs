using System.Diagnostics;
using Weft.Proxy.Net;

namespace Weft.Proxy.Tests.Net;

/// <summary>
/// The sidecar's clock (<see cref="EngineClock"/>): on an engine's thread a timestamp is the one read when the event in
/// progress was dispatched. What a user would see if that went wrong is a latency figure that is early (shorter than the
/// real one: a stamp from before the cause) or frozen; <c>MetricsEndpointTests.Metrics_LatencyLandsInTheBucketOfItsDuration</c>
/// checks the recorded figure end to end through the same engine.
/// </summary>
public sealed class EngineClockTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task On_an_engine_thread_a_timestamp_is_read_after_the_event_that_runs_it_and_moves_with_the_next_event()
    {
        Assert.True(EngineClock.Enabled, "WEFT_ENGINE_CLOCK=0 is set for this test run");
        using var engine = new EpollEngine("weft-epoll-clock-test");
        var pair = await EpollSocketTests.PairAsync(engine);
        using var client = pair.Client;
        using var server = pair.Server;

        var first = ReadTwiceOnTheEngine();
        var sentFirst = Stopwatch.GetTimestamp();
        await server.SendAsync("a"u8.ToArray());
        var (thread, a1, a2, spunUntil) = await first.WaitAsync(Limit);

        var second = ReadTwiceOnTheEngine();
        var sentSecond = Stopwatch.GetTimestamp();
        await server.SendAsync("b"u8.ToArray());
        var (_, b1, b2, _) = await second.WaitAsync(Limit);

        Assert.Equal("weft-epoll-clock-test", thread);
        // Read once for the event: two reads 2 ms apart within it agree...
        Assert.Equal(a1, a2);
        Assert.Equal(b1, b2);
        // ...and that read came after what caused the event (never an early stamp, so never a shortened duration)...
        Assert.True(a1 >= sentFirst, $"the event's stamp {a1} precedes the send that caused it ({sentFirst})");
        Assert.True(b1 >= sentSecond, $"the event's stamp {b1} precedes the send that caused it ({sentSecond})");
        // ...and the next event reads again: it sees the 2 ms the first event spent.
        Assert.True(b1 >= spunUntil, $"the second event's stamp {b1} is older than the end of the first event ({spunUntil})");

        // The result goes through a source that completes asynchronously, so the test itself never continues on the
        // engine's thread (where a later test would find the stamp of this engine's last event).
        Task<(string?, long, long, long)> ReadTwiceOnTheEngine()
        {
            var done = new TaskCompletionSource<(string?, long, long, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = Read();
            return done.Task;

            async Task Read()
            {
                await client.ReceiveAsync(new byte[8]).ConfigureAwait(false);
                var t1 = EngineClock.Instance.GetTimestamp();
                var spin = Stopwatch.GetTimestamp();
                while (Stopwatch.GetElapsedTime(spin) < TimeSpan.FromMilliseconds(2))
                    Thread.SpinWait(100);
                var t2 = EngineClock.Instance.GetTimestamp();
                done.SetResult((Thread.CurrentThread.Name, t1, t2, Stopwatch.GetTimestamp()));
            }
        }
    }

    [Fact]
    public void Off_an_engine_thread_every_read_is_the_system_clock()
    {
        Assert.False(EpollEngine.OnEngineThread);
        var before = Stopwatch.GetTimestamp();
        var read = EngineClock.Instance.GetTimestamp();
        while (Stopwatch.GetElapsedTime(before) < TimeSpan.FromMilliseconds(1))
            Thread.SpinWait(100);
        var later = EngineClock.Instance.GetTimestamp();

        Assert.True(read >= before);
        Assert.True(Stopwatch.GetElapsedTime(read, later) >= TimeSpan.FromMilliseconds(1));
        Assert.Equal(Stopwatch.Frequency, EngineClock.Instance.TimestampFrequency);
    }
}
