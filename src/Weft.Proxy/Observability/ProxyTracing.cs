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
        var http = call.Http;
        var request = http.Request;
        var headers = request.Headers;
        ActivityContext parent = default;
        if (headers.TryGetValue(TraceParent, out var traceParent))
            ActivityContext.TryParse(traceParent.ToString(), headers.TryGetValue(TraceState, out var state) ? state.ToString() : null, isRemote: true, out parent);
        var kind = call.Listener.Kind == ListenerKind.Inbound ? ActivityKind.Server : ActivityKind.Client;
        var span = _source.StartActivity(request.Method, kind, parent);
        if (span is null)
            return;
        call.Span = span;
        if (span.IsAllDataRequested)
        {
            span.SetTag("http.request.method", request.Method);
            span.SetTag("url.path", request.Path.Value);
            span.SetTag("server.address", request.Host.Host);
            span.SetTag("weft.direction", kind == ActivityKind.Server ? "inbound" : "outbound");
        }
    }

    public static void Stop(ProxyCall call, int status)
    {
        if (call.Span is not { } span)
            return;
        if (span.IsAllDataRequested)
        {
            span.SetTag("http.response.status_code", status);
            if (call.Upstream is { } upstream)
                span.SetTag("weft.upstream.service", upstream.Service);
            if (call.Route is { } route)
                span.SetTag("weft.route", route.Name);
            if (call.Endpoint is { } endpoint)
                span.SetTag("network.peer.address", endpoint.Endpoint.HostPort);
            span.SetTag("weft.retries", Math.Max(0, call.Attempts - 1));
            if (ErrorCause(call.Http) is { } cause)
            {
                span.SetTag("error.type", cause);
                span.SetTag("weft.error", cause);
            }
            if (status >= 500 || status == 0)
                span.SetStatus(ActivityStatusCode.Error, ErrorCause(call.Http));
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
