using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Listeners;
using Weft.Proxy.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// One request on its way through the layers: what each layer decided, and the current attempt. It is also the
/// request's YARP transformer, so that the retry layer sees the upstream's status before anything is written: a
/// response it will retry is declined (nothing reaches the client) and the attempt starts over.
/// </summary>
internal sealed class ProxyCall : HttpTransformer
{
    public ProxyCall(HttpContext http, Listener listener, RouteTable table, TimeProvider time)
    {
        Http = http;
        Time = time;
        Listener = listener;
        Table = table;
        Started = time.GetTimestamp();
    }

    public HttpContext Http { get; }
    public TimeProvider Time { get; }
    public Listener Listener { get; }
    public RouteTable Table { get; }
    public long Started { get; }

    /// <summary>This hop's span when tracing records the request; its <c>traceparent</c> goes to the next hop.</summary>
    public System.Diagnostics.Activity? Span { get; set; }

    /// <summary>This hop's tracing decision (default when tracing is off: the trace headers pass through as received).</summary>
    public Observability.TraceHop Trace { get; set; }

    // Decided by the layers, in order.
    public UpstreamRoutes? Upstream { get; set; }
    public Route? Route { get; set; }
    public SplitTarget? Target { get; set; }

    // Set by whichever layer answers the request itself.
    public ProxyErrorKind Error { get; private set; }
    public string? ErrorMessage { get; private set; }

    // The current attempt.
    public EndpointState? Endpoint { get; set; }
    public CancellationToken AttemptToken { get; set; }
    public CancellationTokenSource? AttemptTimer { get; set; }
    public bool MayDecline { get; set; }
    public bool Declined { get; private set; }
    public int Status { get; set; }
    public AttemptOutcome Outcome { get; set; }
    public ForwarderError ForwarderError { get; set; }
    public Exception? Exception { get; set; }
    public long HeadersAt { get; private set; }
    public int Attempts { get; set; }

    // What a layer does when the attempt or the request ends, run by the layer that drives it (RetryLayer, RequestPipeline),
    // so that a layer with nothing to await needs no async frame of its own: one slot each, a static delegate, no allocation.
    private Action<ProxyCall, long>? _attemptEnded;
    private long _attemptMark;
    private Action<ProxyCall>? _requestEnded;

    /// <summary>Runs <paramref name="ended"/> (with <paramref name="mark"/>) when the current attempt ends.</summary>
    public void OnAttemptEnd(Action<ProxyCall, long> ended, long mark)
    {
        _attemptEnded = ended;
        _attemptMark = mark;
    }

    /// <summary>Ends the current attempt (the retry layer, once its next layer has returned or thrown).</summary>
    public void EndAttempt()
    {
        var ended = _attemptEnded;
        _attemptEnded = null;
        ended?.Invoke(this, _attemptMark);
    }

    /// <summary>Runs <paramref name="ended"/> when the request has gone through the layers (before anything is written for it).</summary>
    public void OnRequestEnd(Action<ProxyCall> ended) => _requestEnded = ended;

    /// <summary>Ends the request's pass through the layers (the pipeline, whether they returned or threw).</summary>
    public void EndRequest()
    {
        var ended = _requestEnded;
        _requestEnded = null;
        ended?.Invoke(this);
    }

    /// <summary>Endpoints this request has tried, so a retry prefers another; allocated on the first retry only.</summary>
    public List<EndpointState>? Tried { get; set; }

    public void Fail(ProxyErrorKind kind, string message)
    {
        Error = kind;
        ErrorMessage = message;
    }

    public void BeginAttempt()
    {
        Declined = false;
        Status = 0;
        Outcome = AttemptOutcome.Success;
        ForwarderError = ForwarderError.None;
        Exception = null;
        HeadersAt = 0;
        Attempts++;
    }

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        if (httpContext.Request.Headers.Connection.Count > 0)
            ConnectionOptions.Remove(httpContext.Request.Headers, proxyRequest.Headers);
        // The upstream sees the Host the caller used (Envoy keeps it too), not the endpoint's address.
        proxyRequest.Headers.Host = httpContext.Request.Host.Value;
        if (Trace.Decided)
        {
            // This hop's span, or the trace passed on unsampled; the caller's tracestate (as YARP copied it) goes with
            // its traceparent, and is dropped when the caller sent no valid one (a new trace).
            proxyRequest.Headers.Remove(Observability.ProxyTracing.TraceParent);
            proxyRequest.Headers.TryAddWithoutValidation(Observability.ProxyTracing.TraceParent, Span?.Id ?? Trace.Forward.ToString());
            if (!Trace.HasParent)
                proxyRequest.Headers.Remove(Observability.ProxyTracing.TraceState);
        }
        var action = Route?.Action;
        if (action?.PrefixRewrite is { } rewrite)
        {
            var path = httpContext.Request.Path.Value ?? "/";
            var rest = path.Length >= action.RewrittenPrefix!.Length ? path[action.RewrittenPrefix.Length..] : "";
            proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress(destinationPrefix, new PathString(rewrite + rest), httpContext.Request.QueryString);
        }
    }

    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is null)
            return base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);

        if (ResponseArrived((int)proxyResponse.StatusCode))
            return new ValueTask<bool>(false);

        var copied = base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (!proxyResponse.Headers.NonValidated.Contains("Connection"))
            return copied;
        return RemoveConnectionOptionsAsync(copied, httpContext, proxyResponse);
    }

    /// <summary>
    /// The current attempt's response head arrived with <paramref name="status"/> (from YARP, or the inbound app client):
    /// true when the route retries that status and the attempt is declined (nothing reaches the client).
    /// </summary>
    public bool ResponseArrived(int status)
    {
        HeadersAt = Time.GetTimestamp();
        Status = status;
        // Timeouts measure the time to the response headers; a streamed body (gRPC streams, downloads) is not cut off.
        AttemptTimer?.CancelAfter(Timeout.InfiniteTimeSpan);
        if (MayDecline && Route is { } route && route.Action.Retry.RetriesStatus(status))
        {
            Declined = true;
            return true;
        }

        return false;
    }

    private static async ValueTask<bool> RemoveConnectionOptionsAsync(ValueTask<bool> copied, HttpContext httpContext, HttpResponseMessage proxyResponse)
    {
        var result = await copied;
        ConnectionOptions.Remove(proxyResponse.Headers, httpContext.Response.Headers);
        return result;
    }
}
