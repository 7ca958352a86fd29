using Microsoft.Extensions.Logging;

namespace Weft.Proxy.Hosting;

/// <summary>
/// The caller's logger factory, minus one Kestrel warning that is false for this server: "HTTP/2 is not enabled ...
/// Connections to this endpoint will use HTTP/1.1" (event 64). The listeners do serve h2c (see
/// <c>ListenerConnections</c>); printing the opposite at every start would send operators chasing a non-problem.
/// </summary>
internal sealed class ProxyLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private const string KestrelCategory = "Microsoft.AspNetCore.Server.Kestrel";
    private const int Http2DisabledWithoutTls = 64;

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName == KestrelCategory ? new DroppingLogger(logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The inner factory belongs to the caller.
    public void Dispose()
    {
    }

    private sealed class DroppingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != Http2DisabledWithoutTls)
                inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
