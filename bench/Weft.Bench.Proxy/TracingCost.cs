using System.Text;
using System.Text.Json.Nodes;
using Weft.Proxy.Observability;

namespace Weft.Bench.Proxy;

/// <summary>
/// What <c>--trace-sampling 0.01</c> adds to each request, timed directly as the fast path does it for a request that
/// came without <c>traceparent</c> (as wrk's do): the sampling decision, then for the 99% unsampled the head copied
/// with this hop's <c>traceparent</c> written in, for the 1% sampled a span started, tagged and finished (handed to
/// OpenTelemetry's batch processor; its exporter points at a closed loopback port). Median of 5 single-thread trials;
/// set against the sidecar's measured CPU per request in the goals table, as <see cref="CountingCost"/> is, because the
/// same-run traced-vs-untraced comparison on 2 shared cores swings by more than the 5% it is judged by.
/// </summary>
internal static class TracingCost
{
    public static JsonObject Measure()
    {
        using var tracing = new ProxyTracing(new Uri("http://127.0.0.1:9"), 0.01, "bench", "bench-1", $"Weft.Bench.tracing-{Environment.ProcessId}");
        var head = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: backend\r\nUser-Agent: wrk\r\n\r\n");
        var to = new byte[256];
        const int n = 500_000;
        var sampled = 0;
        var result = TimedAlone.Trials(n, () =>
        {
            for (var i = 0; i < n; i++)
            {
                var hop = tracing.Decide(ReadOnlySpan<byte>.Empty);
                if (!hop.Sampled)
                {
                    TraceHeaders.CopyHead(head, to, -1, 0, -1, 0, hop.Forward);
                    continue;
                }

                sampled++;
                if (tracing.StartSpan("GET", inbound: false, hop, null) is { } span)
                {
                    ProxyTracing.TagRequest(span, "GET", "/", "backend", inbound: false);
                    ProxyTracing.Finish(span, 200, "backend", "default", "127.0.0.1:8080", 1, null);
                }
            }
        });
        result["sampled_fraction"] = LoadResult.Round((double)sampled / (TimedAlone.Runs * n));
        return result;
    }
}
