using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Routing;
using Weft.Proxy.Transport;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// Sends one attempt with YARP's forwarder: h2c to sidecars and to HTTP/2 or gRPC services, HTTP/1.1 otherwise
/// (a WebSocket to a sidecar goes as an HTTP/2 extended CONNECT, which YARP and Kestrel translate; to an app it stays
/// an HTTP/1.1 upgrade). Classifies how the attempt ended. Plain HTTP/1.1 requests to the app or to an instance without a
/// sidecar, needing nothing of YARP, go to the <see cref="FastPath.RawHttp1Client"/> instead.
/// </summary>
internal sealed class ForwardLayer(IHttpForwarder forwarder, ILogger log, FastPath.RawHttp1Client? appClient = null) : ProxyLayer
{
    // Plain HTTP/1.1 to the app, or to an instance without a sidecar: the fast path's raw pooled connections instead of
    // YARP. Returned as it is, not awaited here: one async frame fewer on every such request.
    public override ValueTask InvokeAsync(ProxyCall call) =>
        appClient is not null && (call.Listener.Kind == Listeners.ListenerKind.Inbound ? appClient.Inbound : appClient.Direct) && appClient.Takes(call)
            ? appClient.SendAsync(call)
            : ForwardAsync(call);

    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    private async ValueTask ForwardAsync(ProxyCall call)
    {
        var binding = call.Target!.Binding;
        var state = call.Endpoint!;
        var endpoint = state.Endpoint;
        var sidecar = state.Sidecar;
        var invoker = sidecar ? binding.SidecarInvoker : binding.DirectInvoker;
        var http2 = sidecar || Protocols.SpeaksHttp2(binding.Protocol) && !IsWebSocket(call);
        var error = await forwarder.SendAsync(call.Http, binding.PrefixFor(endpoint), invoker,
            http2 ? ForwarderConfigs.Http2 : ForwarderConfigs.Http11, call, call.AttemptToken);

        call.ForwarderError = error;
        if (error == ForwarderError.None)
        {
            if (!call.Declined)
                call.Status = call.Http.Response.StatusCode;
            call.Outcome = call.Status >= 500 ? AttemptOutcome.ServerError : AttemptOutcome.Success;
            return;
        }

        call.Exception = call.Http.Features.Get<IForwarderErrorFeature>()?.Exception;
        call.Outcome = Classify(call, error);
        log.AttemptFailed(binding.Name, state.HostPort, error, call.Exception);
    }

    private static bool IsWebSocket(ProxyCall call)
    {
        var request = call.Http.Request;
        return request.Headers.Upgrade.Count > 0 || string.Equals(request.Protocol, "HTTP/2", StringComparison.Ordinal) && request.Method == "CONNECT";
    }

    private static AttemptOutcome Classify(ProxyCall call, ForwarderError error)
    {
        if (call.Http.RequestAborted.IsCancellationRequested)
            return AttemptOutcome.Cancelled;
        if (call.AttemptToken.IsCancellationRequested)
            return AttemptOutcome.Timeout;
        return error switch
        {
            ForwarderError.Request => IsConnectFailure(call.Exception) ? AttemptOutcome.ConnectFailure : AttemptOutcome.Reset,
            ForwarderError.RequestTimedOut or ForwarderError.UpgradeActivityTimeout => AttemptOutcome.Timeout,
            // Kestrel refused the upstream's body (more than its Content-Length, a body on a 204 or 304) while the
            // client is still there: the upstream's fault, answered 502 upstream-reset when nothing was sent yet.
            ForwarderError.ResponseBodyClient when call.Exception is InvalidOperationException => AttemptOutcome.Reset,
            ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
                or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeResponseCanceled
                or ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient
                or ForwarderError.UpgradeRequestClient or ForwarderError.UpgradeResponseClient => AttemptOutcome.Cancelled,
            _ => AttemptOutcome.Reset,
        };
    }

    internal static bool IsConnectFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } or SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.TimedOut })
                return true;
            if (e is TimeoutException)
                return true;
        }

        return false;
    }
}
