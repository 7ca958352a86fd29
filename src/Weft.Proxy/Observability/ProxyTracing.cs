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
/// One span per hop, exported over OTLP: a server span on the inbound listener, a client span on the outbound ones,
/// each a child of the caller's W3C <c>traceparent</c> (a new trace when there is none). The request forwarded to the
/// next hop carries the new span's <c>traceparent</c> (see <see cref="ProxyCall"/>). Exists only when an OTLP endpoint
/// is configured: without it no listener is registered and the headers pass through as received.
/// </summary>
internal sealed class ProxyTracing : IDisposable
{
    public const string DefaultSourceName = "Weft.Proxy";
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    private readonly ActivitySource _source;
    private readonly TracerProvider _provider;

    public ProxyTracing(Uri endpoint, double sampling, string serviceName, string instanceId, string sourceName)
    {
        _source = new ActivitySource(sourceName);
        _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(sourceName)
            // Parent-based: a caller's sampling decision is kept across the mesh; the ratio decides for new traces.
            .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(sampling)))
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(serviceName, serviceInstanceId: instanceId, autoGenerateServiceInstanceId: false))
            .AddOtlpExporter(o =>
            {
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = TracesUri(endpoint);
            })
            .Build();
    }

    /// <summary>An endpoint given as a base address (as OTEL_EXPORTER_OTLP_ENDPOINT) gets the traces path appended.</summary>
    public static Uri TracesUri(Uri endpoint) =>
        endpoint.AbsolutePath is "" or "/" ? new Uri(endpoint, "/v1/traces") : endpoint;

    public void Start(ProxyCall call)
    {
        var request = call.Http.Request;
        var headers = request.Headers;
        string? traceParent = null, traceState = null;
        if (headers.TryGetValue(TraceParent, out var parentValue))
        {
            traceParent = parentValue.ToString();
            traceState = headers.TryGetValue(TraceState, out var state) ? state.ToString() : null;
        }

        var inbound = call.Listener.Kind == ListenerKind.Inbound;
        var span = StartSpan(request.Method, inbound, traceParent, traceState);
        if (span is null)
            return;
        call.Span = span;
        if (span.IsAllDataRequested)
            TagRequest(span, request.Method, request.Path.Value, request.Host.Host, inbound);
    }

    /// <summary>This hop's span, a child of the caller's <c>traceparent</c> when it sent a valid one; null when not sampled.</summary>
    public Activity? StartSpan(string method, bool inbound, string? traceParent, string? traceState)
    {
        ActivityContext parent = default;
        if (traceParent is not null)
            ActivityContext.TryParse(traceParent, traceState, isRemote: true, out parent);
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
        Finish(span, status, call.Upstream?.Service, call.Route?.Name, call.Endpoint?.Endpoint.HostPort, call.Attempts,
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
