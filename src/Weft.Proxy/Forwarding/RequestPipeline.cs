using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Listeners;
using Weft.Proxy.Routing;
using Weft.Proxy.Transport;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// The request path, assembled here and only here:
/// intentions (inbound only: may this caller reach the app?) → route (listener or Host → upstream, first matching route) → split (weighted destination) → limits (breaker) →
/// retry (attempts, timeouts, budget, backoff, body replay) → balance (endpoint pick / report) → forward (YARP, or the
/// inbound app client's raw HTTP/1.1 for plain requests to the local app).
/// A layer that cannot go on records why on the <see cref="ProxyCall"/>; the answer is written once, at the top.
/// </summary>
internal sealed class RequestPipeline
{
    private readonly ProxyLayer _head;
    private readonly MeshConfig _config;
    private readonly TimeProvider _time;
    private readonly Metrics.RouteStats _unroutedInbound;
    private readonly Metrics.RouteStats _unroutedOutbound;
    private readonly bool _count;

    private readonly Observability.ProxyTracing? _tracing;
    private readonly Observability.AccessLog? _accessLog;

    public RequestPipeline(MeshConfig config, IHttpForwarder forwarder, TimeProvider time, Metrics.ProxyMetrics metrics, ILogger log,
        Observability.ProxyTracing? tracing = null, Observability.AccessLog? accessLog = null, FastPath.RawHttp1Client? appClient = null)
    {
        _tracing = tracing;
        _accessLog = accessLog;
        _config = config;
        _time = time;
        _count = metrics.Enabled;
        _unroutedInbound = metrics.Route(Metrics.Directions.Inbound, "", "unrouted");
        _unroutedOutbound = metrics.Route(Metrics.Directions.Outbound, "", "unrouted");
        ProxyLayer forward = new ForwardLayer(forwarder, log, appClient);
        ProxyLayer balance = new BalanceLayer(forward);
        ProxyLayer retry = new RetryLayer(balance);
        ProxyLayer limits = new LimitLayer(retry);
        ProxyLayer split = new SplitLayer(limits);
        ProxyLayer route = new RouteLayer(split);
        _head = new IntentionLayer(route, metrics);
    }

    /// <summary>One request; pooled, so it is awaited once (Kestrel's requests take it with <c>AsTask</c>).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    public async ValueTask HandleAsync(HttpContext http, Listener listener)
    {
        var call = new ProxyCall(http, listener, _config.Table, _time);
        // Observation hooks: both null (nothing done) unless tracing or the access log is configured.
        _tracing?.Start(call);
        var logged = _accessLog?.Begin(http) == true;
        var status = 0;
        try
        {
            try
            {
                await _head.InvokeAsync(call);
            }
            finally
            {
                call.EndRequest();
            }

            if (call.Error != ProxyErrorKind.None)
                await ProxyErrors.WriteAsync(http, call.Error, call.ErrorMessage!, _time.GetUtcNow());
            if (logged)
                await FlushCountedBodyAsync(http);
            status = http.RequestAborted.IsCancellationRequested && !http.Response.HasStarted ? 0 : http.Response.StatusCode;
            if (_count)
            {
                var stats = call.Route?.Stats ?? (listener.Kind == ListenerKind.Inbound ? _unroutedInbound : _unroutedOutbound);
                // The caller's identity exists only over mTLS; without a client certificate the peer stays "unknown".
                if (listener.Kind == ListenerKind.Inbound && http.Connection.ClientCertificate is not null && PeerIdentity.Of(http) is { } peer)
                    stats = stats.ForPeer(peer.Service);
                stats.Record(status, _time.GetElapsedTime(call.Started));
                if (status is > 0 and < 500 && http.Response.Headers.ContainsKey(ProxyErrors.Header))
                    stats.WeftError();
                if (call.Attempts > 1)
                    stats.Retried(status is > 0 and < 500);
            }
        }
        finally
        {
            Observability.ProxyTracing.Stop(call, status);
            if (logged)
                _accessLog!.End(call, status, _time.GetElapsedTime(call.Started));
        }
    }

    /// <summary>
    /// With the access log, the response body is its counting stream under a <c>StreamPipeWriter</c>: bytes written to
    /// <c>BodyWriter</c> without a flush (the inbound app client leaves the last flush to the end of the response, which
    /// Kestrel's own writer honours) reach the caller, and the count, only when this writer is flushed.
    /// </summary>
    private static async ValueTask FlushCountedBodyAsync(HttpContext http)
    {
        try
        {
            await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            // The caller is gone: nothing to deliver.
        }
    }
}
