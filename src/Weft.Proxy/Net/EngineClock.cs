using System.Diagnostics;

namespace Weft.Proxy.Net;

/// <summary>
/// The system clock, read once per event on an epoll engine's thread: there <see cref="GetTimestamp"/> returns the
/// time the engine read just before it dispatched the event in progress, so every request that event moves (its start,
/// its headers' arrival, the balancer's latency sample, the pools' idle stamps) shares one read instead of making its
/// own. HAProxy keeps its clock the same way, once per poll loop. Every other thread, and every other member
/// (<see cref="TimeProvider.GetUtcNow"/>, timers), is the system clock unchanged.
/// </summary>
/// <remarks>
/// A timestamp taken on the engine's thread is late by at most the time the engine has spent on the current event so far
/// (microseconds: an event's completions do not block), never early, so a duration between two events is never shorter
/// than the real one by more than that. Causality holds across threads: an event is dispatched after whatever another
/// thread did to cause it, and its stamp is read at dispatch. The two-hop profile had <c>clock_gettime</c> at about 4% of
/// each sidecar's samples, from about ten reads per request. <c>WEFT_ENGINE_CLOCK=0</c> turns it off (every read is the
/// system clock's), to compare.
/// </remarks>
internal sealed class EngineClock : TimeProvider
{
    [ThreadStatic]
    private static long t_event;

    private EngineClock()
    {
    }

    public static EngineClock Instance { get; } = new();

    /// <summary>Whether the engines stamp their events and <see cref="Default"/> is this clock (<c>WEFT_ENGINE_CLOCK</c>, on by default).</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("WEFT_ENGINE_CLOCK") != "0";

    /// <summary>The sidecar's clock unless a test gives it another: this one, or the system's when it is turned off.</summary>
    public static TimeProvider Default => Enabled ? Instance : System;

    /// <summary>Called by an engine's thread before it dispatches an event.</summary>
    internal static void EventStarting() => t_event = Stopwatch.GetTimestamp();

    public override long GetTimestamp()
    {
        var stamp = t_event;
        return stamp != 0 ? stamp : Stopwatch.GetTimestamp();
    }
}
