using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Forwarding;
using Weft.Proxy.Routing;

namespace Weft.Proxy.FastPath;

/// <summary>
/// The layered path's client for plain HTTP/1.1 to an instance without a sidecar: the inbound listener's local app, and
/// (from the outbound and upstream listeners) services registered without one, over the fast path's pooled raw
/// connections (<see cref="UpstreamPools"/>, <see cref="ResponseHead"/>) instead of YARP's forwarder and
/// <c>SocketsHttpHandler</c>. It replaces only the forward step: routing, load balancing, retries, limits, outlier
/// detection, intentions, the caller's identity, metrics, tracing, the access log and drain are the layered path's
/// (<see cref="RequestPipeline"/>), which calls it from <see cref="ForwardLayer"/> for the requests it <see cref="Takes"/>;
/// everything else (gRPC, WebSockets, CONNECT, <c>Expect</c>, <c>TE</c>, prefix rewrites, sidecars, services whose
/// protocol is <c>http2</c>/<c>grpc</c>) stays on YARP. On the outbound side it carries what the HTTP/1.1 fast path does
/// not: requests from apps speaking h2c, and the HTTP/1.1 requests the fast path hands to Kestrel. The request head is
/// written from the <see cref="HttpContext"/> with YARP's header rules; the response's status, headers and body go into
/// <see cref="HttpContext.Response"/> (<c>BodyWriter</c>), chunked bodies decoded and their trailers passed on.
/// <c>WEFT_INBOUND_FAST=0</c> turns it off for the inbound leg, <c>WEFT_DIRECT_RAW=0</c> for the outbound one.
/// </summary>
internal sealed class RawHttp1Client : IDisposable
{
    /// <summary>YARP's idle limit for an exchange (no response head, or no body bytes, for this long): 504.</summary>
    public static readonly TimeSpan ActivityTimeout = TimeSpan.FromMinutes(15);

    /// <summary>How often idle exchanges are looked for: one is ended between <see cref="ActivityTimeout"/> and this much later.</summary>
    public static readonly TimeSpan ActivitySweep = TimeSpan.FromSeconds(30);

    /// <summary>Exchanges kept for reuse, each with its 12 KiB of buffers: as many as were in flight at once, up to this.</summary>
    private const int MaxPooledExchanges = 256;

    private readonly Lock _gate = new();
    private readonly Stack<AppExchange> _free = new();
    // Every exchange that exists (in flight or pooled), for the activity sweep; one the pool does not keep leaves it.
    private readonly List<AppExchange> _all = [];
    private readonly ITimer _sweeper;
    private long _requests;
    private long _declined;

    public RawHttp1Client(TimeProvider time, ILogger log, bool engine = false)
    {
        Time = time;
        Log = log;
        Pools = new UpstreamPools(time, engine);
        _sweeper = time.CreateTimer(static s => ((RawHttp1Client)s!).Sweep(), this, ActivitySweep, ActivitySweep);
    }

    private void Sweep()
    {
        AppExchange[] all;
        lock (_gate)
            all = [.. _all];
        var now = Time.GetTimestamp();
        foreach (var exchange in all)
            exchange.ExpireIfIdle(now);
    }

    /// <summary>Whether the environment lets the inbound leg use it (<c>WEFT_INBOUND_FAST=0</c>: YARP for every inbound request, to compare).</summary>
    public static bool InboundByEnvironment => Environment.GetEnvironmentVariable("WEFT_INBOUND_FAST") != "0";

    /// <summary>
    /// Whether the environment lets the outbound and upstream listeners use it for instances without a sidecar
    /// (<c>WEFT_DIRECT_RAW=0</c>: YARP for those, to compare).
    /// </summary>
    public static bool DirectByEnvironment => Environment.GetEnvironmentVariable("WEFT_DIRECT_RAW") != "0";

    /// <summary>Used for the inbound listener's requests to the app.</summary>
    public bool Inbound { get; init; } = true;

    /// <summary>Used for the outbound and upstream listeners' requests to instances without a sidecar.</summary>
    public bool Direct { get; init; } = true;

    public TimeProvider Time { get; }
    public ILogger Log { get; }
    public UpstreamPools Pools { get; }
    public HeaderStrings Strings { get; } = new();

    /// <summary>Requests sent by this client (to the app, or to an instance without a sidecar).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests it was offered and left to YARP.</summary>
    public long Declined => Interlocked.Read(ref _declined);

    /// <summary>Whether this request is plain HTTP/1.1 to an instance without a sidecar, with nothing YARP must handle.</summary>
    public bool Takes(ProxyCall call)
    {
        var http = call.Http;
        var request = http.Request;
        var headers = request.Headers;
        if (call.Target!.Binding.Protocol != Protocols.Http || call.Endpoint!.Sidecar || call.Route?.Action.PrefixRewrite is not null
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
        {
            if (!_free.TryPop(out exchange))
            {
                exchange = new AppExchange(this);
                _all.Add(exchange);
            }
        }

        return exchange.RunAsync(call);
    }

    internal void Return(AppExchange exchange)
    {
        lock (_gate)
        {
            if (_free.Count < MaxPooledExchanges)
                _free.Push(exchange);
            else
                _all.Remove(exchange);
        }
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        Pools.Dispose();
    }

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
