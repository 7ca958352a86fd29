using Xunit.Abstractions;
using System.Net;
using System.Text;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>Measures allocations of the whole process, so nothing else may run beside it.</summary>
[CollectionDefinition(nameof(ProcessAllocations), DisableParallelization = true)]
public sealed class ProcessAllocations;

/// <summary>
/// Tracing on, the request not sampled: the fast path allocates nothing more than with tracing off (before, every such
/// request still created an Activity for its propagation data). Both sidecars serve the same requests from raw
/// clients in the same process, alternating, and the lowest bytes per request of three rounds are compared, as the
/// epoll engine thread allocated them (<see cref="EngineAllocations"/>): the whole process's figure varied by more than
/// 200 bytes per request between windows after the rest of the suite had run.
/// </summary>
[Collection(nameof(ProcessAllocations))]
public sealed class TracingAllocationTests(ITestOutputHelper output)
{
    // The lowest of three windows of 1,000: a one-off allocation on the engine thread (a timer, a tier-up, a connection
    // a test before this one left) spreads over enough requests not to read as one.
    private const int Requests = 1000;

    [Fact]
    public async Task UnsampledTracedRequest_AllocatesNoMoreThanAnUntracedOne()
    {
        await using var upstream = new RawUpstream(_ => ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), false));
        // The collector is never reached: at sampling 0 with no caller traceparent there is nothing to export.
        await using var traced = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with
        {
            OtlpEndpoint = new Uri("http://127.0.0.1:9"), TraceSampling = 0, TraceSourceName = "Weft.Proxy.allocations",
        });
        await using var plain = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp));
        foreach (var proxy in new[] { traced, plain })
            Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", upstream.Address)])])).Applied);
        using var tracedClient = await RawClient.ConnectAsync(traced.OutboundAddress);
        using var plainClient = await RawClient.ConnectAsync(plain.OutboundAddress);
        // The test's upstream reads each head into a string, so both sidecars must send it heads of one length: the
        // untraced one gets a caller traceparent it passes through, the traced one replaces the caller's (unsampled
        // parent) or adds its own (no parent) of the same length.
        var withParent = Encoding.ASCII.GetBytes("GET /orders/7 HTTP/1.1\r\nHost: orders\r\nUser-Agent: wrk\r\n"
            + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n\r\n");
        var withoutParent = Encoding.ASCII.GetBytes("GET /orders/7 HTTP/1.1\r\nHost: orders\r\nUser-Agent: wrk\r\n\r\n");
        await tracedClient.SendOkAsync(withParent, 100);
        await tracedClient.SendOkAsync(withoutParent, 100);
        await plainClient.SendOkAsync(withParent, 200);

        var lowest = await RawClient.LowestOfRoundsAsync(3,
            () => tracedClient.EngineBytesPerRequestAsync(withParent, Requests),
            () => tracedClient.EngineBytesPerRequestAsync(withoutParent, Requests),
            () => plainClient.EngineBytesPerRequestAsync(withParent, Requests));
        var (unsampledParent, noParent, untraced) = (lowest[0], lowest[1], lowest[2]);

        // Every request took the fast path, so all the sidecars did for them ran on the engine thread that was measured.
        Assert.True(traced.FastPath is { Connections: 1, FallBacks: 0 } && plain.FastPath is { Connections: 1, FallBacks: 0 });
        // Measured on the engine thread alone, the three are equal (56 bytes per request each). What this guards against
        // is an Activity per request (~250 bytes) plus the traceparent text the old path formatted (~134). The margin
        // is for a timer or a tier-up landing on the engine thread in every window of one kind.
        var figures = $"engine-thread bytes per request: traced, unsampled parent {unsampledParent}; traced, no parent {noParent}; untraced {untraced}";
        output.WriteLine(figures);
        Assert.True(unsampledParent - untraced < 32, figures);
        Assert.True(noParent - untraced < 32, figures);
    }
}
