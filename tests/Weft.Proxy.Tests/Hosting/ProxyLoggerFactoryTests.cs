using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

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

    [Fact]
    public void KestrelConnectionScope_AsWeftProxyLogs_LeavesTheExecutionContextDefault()
    {
        // What `weft proxy` configures (a console whose provider takes external scopes): Kestrel's scope around each
        // connection would be an AsyncLocal that every request's continuation then runs inside.
        using var inner = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning));
        var connections = new ProxyLoggerFactory(inner).CreateLogger("Microsoft.AspNetCore.Server.Kestrel");
        var unwrapped = inner.CreateLogger("Microsoft.AspNetCore.Server.Kestrel");

        var before = ExecutionContext.Capture();
        using (connections.BeginScope("ConnectionId:{ConnectionId}", "E1"))
            Assert.Same(before, ExecutionContext.Capture());
        using (unwrapped.BeginScope("ConnectionId:{ConnectionId}", "E1"))
            Assert.NotSame(before, ExecutionContext.Capture()); // the same factory unwrapped does set one
    }

    [Fact]
    public void KestrelConnectionLines_AreStillWritten()
    {
        var captured = new CapturingProvider();
        using var inner = LoggerFactory.Create(b => b.AddProvider(captured).SetMinimumLevel(LogLevel.Debug).AddFilter("Microsoft", LogLevel.Warning));
        var connections = new ProxyLoggerFactory(inner).CreateLogger("Microsoft.AspNetCore.Server.Kestrel");

        Assert.True(connections.IsEnabled(LogLevel.Warning));
        connections.LogWarning("connection warning");
        Assert.Equal(["connection warning"], captured.Lines);
    }

    [Fact]
    public async Task TwoSidecars_LoggingAsWeftProxyConfiguresIt_RequestWithoutTraceparentIsStillTraced()
    {
        // With hosting's per-request Activity current, the sidecars' spans were its children: unsampled, so a request
        // without traceparent was never exported by `weft proxy` however high --trace-sampling was.
        var captured = new CapturingProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(captured).SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning));
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        var server = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with
            { LoggerFactory = loggers, OtlpEndpoint = receiver.Endpoint, TraceSourceName = "Weft.Proxy.orders.logging", TraceSampling = 1.0 });
        var client = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with
            { LoggerFactory = loggers, OtlpEndpoint = receiver.Endpoint, TraceSourceName = "Weft.Proxy.frontend.logging", TraceSampling = 1.0 });
        try
        {
            server.ConfigSink.Apply(Mesh.Snapshot(1, []));
            client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", server.InboundAddress, sidecar: true)])]));
            using var http = Mesh.Client(client.OutboundAddress, "orders");
            using var response = await http.GetAsync("/orders/7");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
        }

        var spans = await receiver.WaitForAsync(2, TimeSpan.FromSeconds(15));
        var clientSpan = Assert.Single(spans, s => s.Service == "frontend");
        var serverSpan = Assert.Single(spans, s => s.Service == "orders");
        Assert.Equal("", clientSpan.ParentSpanId);
        Assert.Equal(clientSpan.SpanId, serverSpan.ParentSpanId);
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
