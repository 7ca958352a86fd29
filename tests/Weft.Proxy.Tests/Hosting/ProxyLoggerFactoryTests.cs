using Microsoft.Extensions.Logging;
using Weft.Proxy.Hosting;

namespace Weft.Proxy.Tests.Hosting;

public sealed class ProxyLoggerFactoryTests
{
    private const string Hosting = "Microsoft.AspNetCore.Hosting.Diagnostics";

    [Fact]
    public void HostingLogger_MicrosoftFilteredAtWarningAsWeftProxyDoes_IsOffAtEveryLevel()
    {
        // What `weft proxy` configures: ASP.NET Core hosting then starts no Activity and no scope per request.
        var captured = new CapturingProvider();
        using var inner = LoggerFactory.Create(b => b.AddProvider(captured).SetMinimumLevel(LogLevel.Debug).AddFilter("Microsoft", LogLevel.Warning));
        var logger = new ProxyLoggerFactory(inner).CreateLogger(Hosting);

        Assert.False(logger.IsEnabled(LogLevel.Critical));
        logger.LogCritical("not written");
        Assert.Empty(captured.Lines);
    }

    [Fact]
    public void HostingLogger_InformationAskedFor_StillWritesRequestLogs()
    {
        var captured = new CapturingProvider();
        using var inner = LoggerFactory.Create(b => b.AddProvider(captured).SetMinimumLevel(LogLevel.Information));
        var logger = new ProxyLoggerFactory(inner).CreateLogger(Hosting);

        Assert.True(logger.IsEnabled(LogLevel.Information));
        logger.LogInformation("Request starting HTTP/1.1 GET http://orders/ - - -");
        Assert.Contains("Request starting HTTP/1.1 GET http://orders/ - - -", captured.Lines);
    }

    [Fact]
    public void OtherCategories_AreTheCallersLoggers()
    {
        var captured = new CapturingProvider();
        using var inner = LoggerFactory.Create(b => b.AddProvider(captured).SetMinimumLevel(LogLevel.Debug).AddFilter("Microsoft", LogLevel.Warning));
        var factory = new ProxyLoggerFactory(inner);

        factory.CreateLogger("Weft.Proxy").LogInformation("proxy line");
        factory.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").LogWarning("kestrel warning");
        Assert.Equal(["proxy line", "kestrel warning"], captured.Lines);
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        public List<string> Lines { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Capturing(Lines);

        public void Dispose()
        {
        }

        private sealed class Capturing(List<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (lines)
                    lines.Add(formatter(state, exception));
            }
        }
    }
}
