using Microsoft.Extensions.Logging;

namespace Weft.Proxy.Hosting;

/// <summary>
/// The caller's logger factory, with two changes for this server:
/// <list type="bullet">
/// <item>Minus one Kestrel warning that is false for it: "HTTP/2 is not enabled ... Connections to this endpoint will use
/// HTTP/1.1" (event 64). The listeners do serve h2c (see <c>ListenerConnections</c>); printing the opposite at every
/// start would send operators chasing a non-problem.</item>
/// <item>ASP.NET Core's per-request hosting logger (request starting/finished) is off unless its Information level is
/// on. Hosting asks it <c>IsEnabled(Critical)</c> on every request and, when true, starts an <c>Activity</c> and a
/// logging scope for the request — both AsyncLocals, so every continuation of the forwarded request then restores a
/// non-default execution context. With the sidecar's usual filter (<c>Microsoft</c> at Warning) that bought nothing:
/// the category writes only at Information. Spans are <c>ProxyTracing</c>'s own, parented on <c>traceparent</c>.</item>
/// <item>Kestrel's per-connection logging scope (<c>ConnectionId:...</c>, begun on its general logger, the category
/// above) is not begun. Kestrel begins it around every connection it hands to the listeners, and it too is an
/// AsyncLocal: every await of every request on that connection captured a non-default execution context, and every
/// continuation ran inside <c>ExecutionContext.Run</c> on the epoll engine's thread, to carry a scope that `weft proxy`'s
/// console never prints (no <c>IncludeScopes</c>). Kestrel's log lines themselves are kept.</item>
/// </list>
/// </summary>
internal sealed class ProxyLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private const string KestrelCategory = "Microsoft.AspNetCore.Server.Kestrel";
    private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";
    private const int Http2DisabledWithoutTls = 64;

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName switch
        {
            KestrelCategory => new DroppingLogger(logger),
            HostingCategory when !logger.IsEnabled(LogLevel.Information) => DisabledLogger.Instance,
            _ => logger,
        };
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The inner factory belongs to the caller.
    public void Dispose()
    {
    }

    private sealed class DroppingLogger(ILogger inner) : ILogger
    {
        // Kestrel's one scope is the connection's (see above).
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != Http2DisabledWithoutTls)
                inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }

    private sealed class DisabledLogger : ILogger
    {
        public static readonly DisabledLogger Instance = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => false;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}
