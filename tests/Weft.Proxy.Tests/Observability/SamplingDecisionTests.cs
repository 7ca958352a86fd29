using System.Diagnostics;
using System.Text;
using OpenTelemetry.Trace;
using Weft.Proxy.Observability;

namespace Weft.Proxy.Tests.Observability;

/// <summary>The sampling decision taken before any Activity exists, and the traceparent it reads and writes.</summary>
public sealed class SamplingDecisionTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string SpanId = "00f067aa0ba902b7";

    /// <summary>A tracer exporting nowhere reachable: nothing is sampled here that would be sent.</summary>
    private static ProxyTracing Tracing(double sampling) =>
        new(new Uri("http://127.0.0.1:9"), sampling, "test", "test-1", $"Weft.Proxy.decision-{Guid.NewGuid():N}");

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.01)]
    [InlineData(0.25)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void NewTrace_DecidedAsOpenTelemetrysTraceIdRatioSamplerDecides(double ratio)
    {
        using var tracing = Tracing(ratio);
        var sampler = new TraceIdRatioBasedSampler(ratio);
        var random = new Random(5);
        Span<byte> bytes = stackalloc byte[16];
        var sampled = 0;
        for (var i = 0; i < 20_000; i++)
        {
            random.NextBytes(bytes);
            var id = ActivityTraceId.CreateFromBytes(bytes);
            var expected = sampler.ShouldSample(new SamplingParameters(default, id, "GET", ActivityKind.Client)).Decision == SamplingDecision.RecordAndSample;
            var parsed = W3CTraceParent.TryParse($"00-{id.ToHexString()}-{SpanId}-00", out var parent);
            Assert.True(parsed);
            Assert.Equal(expected, tracing.SamplesNewTrace(parent.TraceHigh));
            sampled += expected ? 1 : 0;
        }

        Assert.InRange(sampled / 20_000.0, ratio - 0.02, ratio + 0.02);
    }

    [Fact]
    public void CallersFlag_DecidesWhateverTheRatio()
    {
        using var never = Tracing(0);
        using var always = Tracing(1);

        var sampled = never.Decide(Encoding.ASCII.GetBytes($"00-{TraceId}-{SpanId}-01"));
        var unsampled = always.Decide(Encoding.ASCII.GetBytes($"00-{TraceId}-{SpanId}-00"));

        Assert.True(sampled.Sampled);
        Assert.True(sampled.HasParent);
        Assert.False(unsampled.Sampled);
        Assert.Equal($"00-{TraceId}-{SpanId}-00", unsampled.Trace.ToString());
        Assert.Equal(unsampled.Trace.TraceHigh, unsampled.Forward.TraceHigh);
        Assert.Equal(unsampled.Trace.TraceLow, unsampled.Forward.TraceLow);
        Assert.NotEqual(unsampled.Trace.SpanId, unsampled.Forward.SpanId);
        Assert.False(unsampled.Forward.Sampled);
    }

    [Theory]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true)]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true)]
    [InlineData("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", true)]
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false)]
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01", false)]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false)]
    [InlineData("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false)]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false)]
    [InlineData("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.extra", false)]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", false)]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-x1", false)]
    [InlineData("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false)]
    [InlineData("", false)]
    public void TryParse_FollowsW3CTraceContext(string value, bool valid)
    {
        Assert.Equal(valid, W3CTraceParent.TryParse(Encoding.ASCII.GetBytes(value), out var fromBytes));
        Assert.Equal(valid, W3CTraceParent.TryParse(value.AsSpan(), out var fromText));
        Assert.Equal(fromBytes, fromText);
        if (valid)
            Assert.Equal(value[3..52], fromBytes.ToString()[3..52]);
    }

    [Fact]
    public void NoParent_ANewRandomTraceForwardedUnsampledAtRatioZero()
    {
        using var tracing = Tracing(0);

        var first = tracing.Decide(ReadOnlySpan<byte>.Empty);
        var second = tracing.Decide(ReadOnlySpan<byte>.Empty);

        Assert.False(first.Sampled);
        Assert.False(first.HasParent);
        Assert.True(first.Decided);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", first.Forward.ToString());
        Assert.NotEqual(first.Forward.ToString(), second.Forward.ToString());
    }

    [Fact]
    public void CopyHead_ReplacesTheTraceparentLine_KeepsOrDropsTracestate_AndTheRest()
    {
        var head = Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: a\r\ntracestate: v=1\r\nX: y\r\ntraceparent: 00-{TraceId}-{SpanId}-01\r\n\r\n");
        var text = Encoding.ASCII.GetString(head);
        var parentAt = text.IndexOf("traceparent", StringComparison.Ordinal);
        var stateAt = text.IndexOf("tracestate", StringComparison.Ordinal);
        var parentLength = text.IndexOf("\r\n", parentAt, StringComparison.Ordinal) + 2 - parentAt;
        var stateLength = text.IndexOf("\r\n", stateAt, StringComparison.Ordinal) + 2 - stateAt;
        W3CTraceParent.TryParse($"00-{TraceId}-1111111111111111-00".AsSpan(), out var next);
        var to = new byte[head.Length + TraceHeaders.MaxLineLength];

        var kept = Encoding.ASCII.GetString(to, 0, TraceHeaders.CopyHead(head, to, parentAt, parentLength, -1, 0, next));
        var dropped = Encoding.ASCII.GetString(to, 0, TraceHeaders.CopyHead(head, to, parentAt, parentLength, stateAt, stateLength, next));

        Assert.Equal($"GET / HTTP/1.1\r\nHost: a\r\ntracestate: v=1\r\nX: y\r\ntraceparent: 00-{TraceId}-1111111111111111-00\r\n\r\n", kept);
        Assert.Equal($"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\ntraceparent: 00-{TraceId}-1111111111111111-00\r\n\r\n", dropped);
    }

    [Fact]
    public void UnsampledRequest_DecisionAndHeadRewrite_AllocateNothing()
    {
        using var tracing = Tracing(0.01);
        var withParent = Encoding.ASCII.GetBytes($"GET /pay HTTP/1.1\r\nHost: payments\r\ntraceparent: 00-{TraceId}-{SpanId}-00\r\n\r\n");
        var withoutParent = Encoding.ASCII.GetBytes("GET /pay HTTP/1.1\r\nHost: payments\r\n\r\n");
        var parentAt = Encoding.ASCII.GetString(withParent).IndexOf("traceparent", StringComparison.Ordinal);
        var to = new byte[256];
        Run(tracing, withParent, withoutParent, parentAt, to, 100);

        // One clean window of three is the proof (a tier-up landing mid-window is the runtime's one-off, as in AllocationTests).
        var allocated = new long[3];
        for (var window = 0; window < allocated.Length; window++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var sampled = Run(tracing, withParent, withoutParent, parentAt, to, 1000);
            allocated[window] = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.InRange(sampled, 0, 60); // ~1% of the 1,000 new traces; the unsampled parent never
            if (allocated[window] == 0)
                return;
        }

        Assert.Fail($"2,000 unsampled decisions and head rewrites allocated in every window: {string.Join(", ", allocated)} bytes");
    }

    private static int Run(ProxyTracing tracing, byte[] withParent, byte[] withoutParent, int parentAt, byte[] to, int times)
    {
        var sampled = 0;
        for (var i = 0; i < times; i++)
        {
            var hop = tracing.Decide(withParent.AsSpan(parentAt + 13, W3CTraceParent.Length));
            TraceHeaders.CopyHead(withParent, to, parentAt, 13 + W3CTraceParent.Length + 2, -1, 0, hop.Forward);
            hop = tracing.Decide(ReadOnlySpan<byte>.Empty);
            if (hop.Sampled)
                sampled++;
            else
                TraceHeaders.CopyHead(withoutParent, to, -1, 0, -1, 0, hop.Forward);
        }

        return sampled;
    }
}
