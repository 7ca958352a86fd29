using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Weft.Proxy.Net;

namespace Weft.Proxy.FastPath;

/// <summary>
/// Per-socket inline completions: the socket's readiness events run their continuations on the socket engine's epoll
/// thread instead of being queued to the thread pool. On the fast path every continuation is short and never blocks
/// (parse, a non-blocking send, arm the next receive), so a request runs from the client's bytes to the upstream and
/// back without a thread-pool hop; the hop (queue, wake a worker, its spinning) was the largest share of the fast
/// path's CPU after the kernel's own socket work. <c>Socket.PreferInlineCompletions</c> is an internal, experimental
/// .NET API (kept for reflection by a <c>DynamicDependency</c> in the runtime), read at every readiness event, so it
/// can be turned on after Kestrel accepted the socket and off again before the connection is handed to Kestrel's HTTP
/// path, whose handlers may block. The process-wide <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c> would also
/// run the control-plane stream, YARP and TLS handshakes on the epoll thread; this does it only where it is safe.
/// Where the property does not exist (another runtime), nothing changes.
/// </summary>
internal static class InlineCompletions
{
    /// <summary>Whether the fast path may complete inline at all (<c>WEFT_FAST_PATH_INLINE=0</c>: never, to compare; the epoll engine's sockets too).</summary>
    public static bool Allowed { get; } = Environment.GetEnvironmentVariable("WEFT_FAST_PATH_INLINE") != "0";

    // After Allowed: static initializers run in order, and this one reads it.
    private static readonly Action<Socket, bool>? Setter = CreateSetter();

    /// <summary>Whether this runtime lets the fast path choose (false: every socket stays on the thread pool).</summary>
    public static bool Available => Setter is not null;

    /// <summary>Turns inline completions on or off for one socket; false when the runtime has no such switch.</summary>
    public static bool Set(Socket socket, bool inline)
    {
        if (Setter is not { } set)
            return false;
        set(socket, inline);
        return true;
    }

    /// <summary>
    /// Turns inline completions on or off for a client connection: the epoll transport's switch when the connection is
    /// on it, else its socket's (Kestrel's socket transport); false when there is neither.
    /// </summary>
    public static bool Set(IFeatureCollection connection, bool inline)
    {
        if (!Allowed)
            return false;
        if (connection.Get<IInlineCompletionsFeature>() is { } engine)
        {
            engine.InlineCompletions = inline;
            return true;
        }

        return connection.Get<IConnectionSocketFeature>()?.Socket is { } socket && Set(socket, inline);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The runtime keeps the setter with a DynamicDependency for this use; null when absent.")]
    [DynamicDependency("set_PreferInlineCompletions", typeof(Socket))]
    private static Action<Socket, bool>? CreateSetter()
    {
        if (!Allowed)
            return null;
        try
        {
            var property = typeof(Socket).GetProperty("PreferInlineCompletions", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            return property?.SetMethod?.CreateDelegate<Action<Socket, bool>>();
        }
        catch (Exception e) when (e is ArgumentException or MemberAccessException or NotSupportedException)
        {
            return null;
        }
    }
}
