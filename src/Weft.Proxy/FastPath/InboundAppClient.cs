using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Routing;

namespace Weft.Proxy.FastPath;

/// <summary>
/// The inbound listener's client to the local app: plain HTTP/1.1 over the fast path's pooled raw connections
/// (<see cref="UpstreamPools"/>, <see cref="ResponseHead"/>), instead of YARP's forwarder and <c>SocketsHttpHandler</c>.
/// It replaces only the forward step: intentions, the caller's identity, metrics, tracing, the access log and drain are
/// the layered path's (<see cref="RequestPipeline"/>), which calls it from <see cref="ForwardLayer"/> for the requests it
/// <see cref="Takes"/>; everything else (gRPC, WebSockets, CONNECT, <c>Expect</c>, <c>TE</c>, apps whose protocol is
/// <c>http2</c>/<c>grpc</c>) stays on YARP. The request head is written from Kestrel's <see cref="HttpContext"/> with
/// YARP's header rules; the response's status, headers and body go into <see cref="HttpContext.Response"/>
/// (<c>BodyWriter</c>), chunked bodies decoded and their trailers passed on. <c>WEFT_INBOUND_FAST=0</c> turns it off.
/// </summary>
internal sealed class InboundAppClient : IDisposable
{
    /// <summary>YARP's idle limit for an exchange (no response head, or no body bytes, for this long): 504.</summary>
    public static readonly TimeSpan ActivityTimeout = TimeSpan.FromMinutes(15);

    private const int MaxPooledExchanges = 64;

    private readonly Lock _gate = new();
    private readonly Stack<AppExchange> _free = new();
    private long _requests;
    private long _declined;

    public InboundAppClient(TimeProvider time, ILogger log, bool engine = false)
    {
        Time = time;
        Log = log;
        Pools = new UpstreamPools(time, engine);
    }

    /// <summary>Whether the environment lets the sidecar use it (<c>WEFT_INBOUND_FAST=0</c>: YARP for every inbound request, to compare).</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable("WEFT_INBOUND_FAST") != "0";

    public TimeProvider Time { get; }
    public ILogger Log { get; }
    public UpstreamPools Pools { get; }
    public HeaderStrings Strings { get; } = new();

    /// <summary>Inbound requests sent to the app by this client.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Inbound requests it left to YARP.</summary>
    public long Declined => Interlocked.Read(ref _declined);

    /// <summary>Whether this request is plain HTTP/1.1 to the app with nothing YARP must handle.</summary>
    public bool Takes(ProxyCall call)
    {
        var http = call.Http;
        var request = http.Request;
        var headers = request.Headers;
        if (call.Target!.Binding.Protocol != Protocols.Http || call.Endpoint!.Endpoint.Sidecar || call.Route?.Action.PrefixRewrite is not null
            || HttpMethods.IsConnect(request.Method) || headers.Upgrade.Count > 0 || headers.Expect.Count > 0 || headers.TE.Count > 0
            || request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
            || http.Features.Get<IHttpRequestFeature>()?.RawTarget is not { Length: > 0 } target || target[0] != '/')
        {
            Interlocked.Increment(ref _declined);
            return false;
        }

        return true;
    }

    /// <summary>One attempt, with <see cref="ForwardLayer"/>'s contract: the outcome, status and error on the call.</summary>
    public ValueTask SendAsync(ProxyCall call)
    {
        Interlocked.Increment(ref _requests);
        AppExchange? exchange;
        lock (_gate)
            _free.TryPop(out exchange);
        return (exchange ?? new AppExchange(this)).RunAsync(call);
    }

    internal void Return(AppExchange exchange)
    {
        lock (_gate)
        {
            if (_free.Count < MaxPooledExchanges)
                _free.Push(exchange);
        }
    }

    public void Dispose() => Pools.Dispose();

    /// <summary>Request headers never sent to the app: YARP's list (hop-by-hop and proxy-only), plus what the head writer writes itself.</summary>
    internal static readonly FrozenSet<string> SkippedRequestHeaders = new[]
    {
        "Host", "Content-Length", "Connection", "Transfer-Encoding", "Keep-Alive", "Upgrade", "Proxy-Connection", "Proxy-Authenticate",
        "Proxy-Authentication-Info", "Proxy-Authorization", "Proxy-Features", "Proxy-Instruction", "Security-Scheme", "ALPN", "Close",
        "TE", "Alt-Svc", "Expect",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Response headers never passed to the caller: the same list (Content-Length is set from the framing).</summary>
    internal static bool SkipsResponseHeader(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 => System.Text.Ascii.EqualsIgnoreCase(name, "te"u8),
        4 => System.Text.Ascii.EqualsIgnoreCase(name, "alpn"u8),
        5 => System.Text.Ascii.EqualsIgnoreCase(name, "close"u8),
        7 => System.Text.Ascii.EqualsIgnoreCase(name, "upgrade"u8) || System.Text.Ascii.EqualsIgnoreCase(name, "alt-svc"u8),
        10 => System.Text.Ascii.EqualsIgnoreCase(name, "connection"u8) || System.Text.Ascii.EqualsIgnoreCase(name, "keep-alive"u8),
        14 => System.Text.Ascii.EqualsIgnoreCase(name, "content-length"u8) || System.Text.Ascii.EqualsIgnoreCase(name, "proxy-features"u8),
        15 => System.Text.Ascii.EqualsIgnoreCase(name, "security-scheme"u8),
        16 => System.Text.Ascii.EqualsIgnoreCase(name, "proxy-connection"u8),
        17 => System.Text.Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8) || System.Text.Ascii.EqualsIgnoreCase(name, "proxy-instruction"u8),
        18 => System.Text.Ascii.EqualsIgnoreCase(name, "proxy-authenticate"u8),
        19 => System.Text.Ascii.EqualsIgnoreCase(name, "proxy-authorization"u8),
        25 => System.Text.Ascii.EqualsIgnoreCase(name, "proxy-authentication-info"u8),
        _ => false,
    };
}
