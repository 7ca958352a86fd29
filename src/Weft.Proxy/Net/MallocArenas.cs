namespace Weft.Proxy.Net;

/// <summary>
/// Caps glibc's malloc arenas for the sidecar's native allocations (OpenSSL's per-connection and per-handshake memory,
/// the runtime's own). glibc gives a thread that finds an arena busy an arena of its own, up to eight per core, and keeps
/// what was freed in each: under load, with the thread pool's threads doing TLS handshakes and the engine's thread
/// forwarding, the sidecar's RSS rose by steps of 5–14 MiB (a new arena, or the main one grown) and never came back,
/// while its live managed heap stayed at 2–3 MB and its live native heap at about 13 MB (see <c>bench/proxy/README.md</c>,
/// Soak). In the same 12-minute soak the pair grew 26/21 MiB with the default arenas and 11/15 MiB with two. The hot
/// path allocates on the managed heap, not with malloc, and the same-run A/B found no CPU cost (README, design notes).
/// An operator's own <c>MALLOC_ARENA_MAX</c> wins; elsewhere than glibc this does nothing.
/// </summary>
internal static class MallocArenas
{
    /// <summary>The cap the sidecar sets unless <c>MALLOC_ARENA_MAX</c> is in its environment.</summary>
    public const int Default = 2;

    /// <summary>Sets the cap once at start (before the listeners' threads exist); returns the cap in force, or null when none was set.</summary>
    public static int? Limit(int max = Default)
    {
        if (Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is { Length: > 0 } own)
            return int.TryParse(own, out var theirs) ? theirs : null;
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            return Libc.mallopt(Libc.M_ARENA_MAX, max) == 1 ? max : null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no arenas to cap).
            return null;
        }
    }
}
