using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Listeners;

namespace Weft.Proxy.Observability;

/// <summary>
/// One span per sampled hop, exported over OTLP: a server span on the inbound listener, a client span on the outbound
/// ones, each a child of the caller's W3C <c>traceparent</c> (a new trace when there is none). The request forwarded to
/// the next hop carries the new span's <c>traceparent</c> (see <see cref="ProxyCall"/>). Exists only when an OTLP
/// endpoint is configured: without it no listener is registered and the headers pass through as received.
/// <para>
/// Sampling is decided here, before any <see cref="Activity"/> exists (<see cref="Decide(ReadOnlySpan{byte})"/>):
/// parent-based — the caller's sampled flag decides — and for a new trace the trace-id ratio, the same function as
/// OpenTelemetry's <c>TraceIdRatioBasedSampler</c>, so every hop that starts from the same trace id agrees. An
/// unsampled request gets no Activity at all (OpenTelemetry's sampler would still create one per request to carry
/// the propagation data): it forwards the trace id with a new span id and flag 00, written straight into the bytes sent.
/// </para>
/// </summary>
internal sealed class ProxyTracing : IDisposable
{
    public const string DefaultSourceName = "Weft.Proxy";
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    private readonly ActivitySource _source;
    private readonly TracerProvider _provider;
    private readonly long _idUpperBound;

    public ProxyTracing(Uri endpoint, double sampling, string serviceName, string instanceId, string sourceName,
        OtlpExportProtocol protocol = OtlpExportProtocol.HttpProtobuf)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sampling);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sampling, 1.0);
        // TraceIdRatioBasedSampler's bound: the limits special-cased so that 0 never and 1 always samples.
        _idUpperBound = sampling switch
        {
            0.0 => long.MinValue,
            1.0 => long.MaxValue,
            _ => (long)(sampling * long.MaxValue),
        };
        _source = new ActivitySource(sourceName);
        _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(sourceName)
            // The decision is taken before StartActivity (Decide): a span is only started for a sampled request.
            .SetSampler(new AlwaysOnSampler())
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(serviceName, serviceInstanceId: instanceId, autoGenerateServiceInstanceId: false))
            .AddOtlpExporter(o =>
            {
                o.Protocol = protocol;
                o.Endpoint = protocol == OtlpExportProtocol.Grpc ? endpoint : TracesUri(endpoint);
            })
            .Build();
    }

    /// <summary>An endpoint given as a base address (as OTEL_EXPORTER_OTLP_ENDPOINT) gets the traces path appended.</summary>
    public static Uri TracesUri(Uri endpoint) =>
        endpoint.AbsolutePath is "" or "/" ? new Uri(endpoint, "/v1/traces") : endpoint;

    /// <summary>
    /// OpenTelemetry .NET's TraceIdRatioBasedSampler (1.20): the trace id's first 8 bytes, big-endian, without the sign
    /// bit, below ratio × long.MaxValue (checked against it on random ids in SamplingDecisionTests).
    /// </summary>
    public bool SamplesNewTrace(ulong traceHigh) => ((long)traceHigh & long.MaxValue) < _idUpperBound;

    /// <summary>This hop's decision from the caller's <c>traceparent</c> bytes (empty when none came). Allocates nothing.</summary>
    public TraceHop Decide(ReadOnlySpan<byte> traceParent) =>
        Decide(W3CTraceParent.TryParse(traceParent, out var parent), parent);

    /// <summary>The same from the text the layered path has.</summary>
    public TraceHop Decide(ReadOnlySpan<char> traceParent) =>
        Decide(W3CTraceParent.TryParse(traceParent, out var parent), parent);

    private TraceHop Decide(bool hasParent, W3CTraceParent parent)
    {
        if (!hasParent)
        {
            var high = W3CTraceParent.RandomId();
            parent = new W3CTraceParent(high, W3CTraceParent.RandomId(), 0, SamplesNewTrace(high));
        }

        // An unsampled hop still propagates (W3C: a proxy that does not record passes the trace on): same trace id, a
        // new span id so the next hop's parent is not the caller's span, flag 00 so the decision holds downstream. A
        // sampled hop forwards its span's instead; this one only if the span could not be started (tracer shut down).
        var forward = parent with { SpanId = W3CTraceParent.RandomId() };
        return new TraceHop(parent, hasParent, forward);
    }

    public void Start(ProxyCall call)
    {
        var request = call.Http.Request;
        var headers = request.Headers;
        var hop = headers.TryGetValue(TraceParent, out var parentValue) && parentValue.Count == 1
            ? Decide(parentValue[0].AsSpan())
            : Decide(ReadOnlySpan<byte>.Empty);
        call.Trace = hop;
        if (!hop.Sampled)
            return;

        var inbound = call.Listener.Kind == ListenerKind.Inbound;
        var traceState = hop.HasParent && headers.TryGetValue(TraceState, out var state) ? state.ToString() : null;
        var span = StartSpan(request.Method, inbound, hop, traceState);
        if (span is null)
            return;
        call.Span = span;
        if (span.IsAllDataRequested)
            TagRequest(span, request.Method, request.Path.Value, request.Host.Host, inbound);
    }

    /// <summary>
    /// This hop's span for a sampled <paramref name="hop"/>: a child of the caller's span, or the root of the trace id
    /// the decision was taken on (a parent context with that trace id and no span id makes a root, as StartActivity
    /// itself does for a new trace).
    /// </summary>
    public Activity? StartSpan(string method, bool inbound, in TraceHop hop, string? traceState)
    {
        var trace = hop.Trace;
        var parent = hop.HasParent
            ? new ActivityContext(trace.TraceId, trace.ActivitySpanId, ActivityTraceFlags.Recorded, traceState, isRemote: true)
            : new ActivityContext(trace.TraceId, default, ActivityTraceFlags.Recorded);
        return _source.StartActivity(method, inbound ? ActivityKind.Server : ActivityKind.Client, parent);
    }

    public static void TagRequest(Activity span, string method, string? path, string host, bool inbound)
    {
        span.SetTag("http.request.method", method);
        span.SetTag("url.path", path);
        span.SetTag("server.address", host);
        span.SetTag("weft.direction", inbound ? "inbound" : "outbound");
    }

    public static void Stop(ProxyCall call, int status)
    {
        if (call.Span is not { } span)
            return;
        Finish(span, status, call.Upstream?.Service, call.Route?.Name, call.Endpoint?.HostPort, call.Attempts,
            span.IsAllDataRequested ? ErrorCause(call.Http) : null);
    }

    /// <summary>Tags the outcome (when recorded) and ends the span.</summary>
    public static void Finish(Activity span, int status, string? upstream, string? route, string? peer, int attempts, string? cause)
    {
        if (span.IsAllDataRequested)
        {
            span.SetTag("http.response.status_code", status);
            if (upstream is not null)
                span.SetTag("weft.upstream.service", upstream);
            if (route is not null)
                span.SetTag("weft.route", route);
            if (peer is not null)
                span.SetTag("network.peer.address", peer);
            span.SetTag("weft.retries", Math.Max(0, attempts - 1));
            if (cause is not null)
            {
                span.SetTag("error.type", cause);
                span.SetTag("weft.error", cause);
            }
            if (status >= 500 || status == 0)
                span.SetStatus(ActivityStatusCode.Error, cause);
        }
        span.Dispose();
    }

    /// <summary>The <c>x-weft-error</c> cause of the answer: this proxy's own, or the next hop's passed through.</summary>
    public static string? ErrorCause(HttpContext http) =>
        http.Response.Headers.TryGetValue(ProxyErrors.Header, out var cause) ? cause.ToString() : null;

    /// <summary>Flushes spans still buffered to the collector.</summary>
    public void Dispose()
    {
        _provider.Dispose();
        _source.Dispose();
    }
}
