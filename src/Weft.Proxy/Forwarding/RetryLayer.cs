using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Resilience;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// Attempts the request until it succeeds, fails in a way the route does not retry, runs out of retries, budget or
/// time. Each attempt has the per-try timeout (bounded by what is left of the request timeout); retries back off with
/// jitter on the injected clock and prefer another endpoint. A body is replayed only if it was buffered: bodies with a
/// Content-Length up to <see cref="MaxReplayBody"/> are; streamed or bigger bodies get one attempt. A policy that retries
/// only connect failures (the default) needs no buffering: such a request's body was never read.
/// </summary>
internal sealed class RetryLayer(ProxyLayer next) : ProxyLayer
{
    public const int MaxReplayBody = 64 * 1024;

    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    public override async ValueTask InvokeAsync(ProxyCall call)
    {
        var route = call.Route!;
        var action = route.Action;
        var binding = call.Target!.Binding;
        var policy = action.Retry;
        var time = call.Time;
        binding.Budget.RecordRequest();

        var retriesLeft = policy.NumRetries > 0 && (policy.OnlyUnsentRequests || CanReplay(call.Http.Request)) ? policy.NumRetries : 0;
        var requestTimeout = action.RequestTimeout;
        var retry = 0;
        while (true)
        {
            var remaining = requestTimeout is { } total ? total - time.GetElapsedTime(call.Started) : (TimeSpan?)null;
            if (remaining <= TimeSpan.Zero)
            {
                TimedOut(call, requestTimeout!.Value);
                return;
            }

            var perTry = action.PerTryTimeout;
            var overallBound = remaining is not null && (perTry is null || remaining <= perTry);
            var attemptTimeout = overallBound ? remaining : perTry;
            call.BeginAttempt();
            call.MayDecline = retriesLeft > 0;
            using (var timer = attemptTimeout is { } t ? new CancellationTokenSource(t, time) : null)
            {
                call.AttemptTimer = timer;
                call.AttemptToken = timer?.Token ?? CancellationToken.None;
                try
                {
                    await next.InvokeAsync(call);
                }
                catch
                {
                    call.Outcome = AttemptOutcome.Reset;
                    throw;
                }
                finally
                {
                    call.EndAttempt();
                }

                call.AttemptTimer = null;
            }

            if (call.Error != ProxyErrorKind.None || call.Outcome == AttemptOutcome.Cancelled)
                return;
            var failed = call.Declined || call.ForwarderError != ForwarderError.None;
            if (!failed || call.Http.Response.HasStarted)
                return;

            if (call.Outcome == AttemptOutcome.Timeout && overallBound)
            {
                TimedOut(call, requestTimeout!.Value);
                return;
            }

            var retriable = call.Declined || policy.RetriesFailure(call.Outcome);
            if (!retriable || retriesLeft == 0)
            {
                FailFromAttempt(call, binding.Name);
                return;
            }

            if (!binding.Budget.TryRetry())
            {
                route.Stats.BudgetExhaustion();
                call.Fail(ProxyErrorKind.RetryBudgetExhausted, ProxyMessages.BudgetExhausted(binding.Name, Describe(call, binding.Name)));
                return;
            }

            retriesLeft--;
            retry++;
            route.Stats.Retry();
            (call.Tried ??= new List<EndpointState>(2)).Add(call.Endpoint!);
            Reset(call.Http);

            var delay = Backoff.Delay(retry);
            if (requestTimeout is { } limit && time.GetElapsedTime(call.Started) + delay >= limit)
            {
                TimedOut(call, limit);
                return;
            }

            try
            {
                await Task.Delay(delay, time, call.Http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static bool CanReplay(HttpRequest request)
    {
        var length = request.ContentLength;
        if (length == 0)
            return true;
        if (length is null)
            return request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false;
        if (length > MaxReplayBody)
            return false;
        request.EnableBuffering(MaxReplayBody);
        return true;
    }

    private static void Reset(HttpContext http)
    {
        if (http.Request.Body.CanSeek)
            http.Request.Body.Position = 0;
        http.Features.Set<IForwarderErrorFeature>(null);
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.Headers.Clear();
    }

    private static void TimedOut(ProxyCall call, TimeSpan limit)
    {
        call.Route!.Stats.Timeout();
        var binding = call.Target!.Binding;
        call.Fail(ProxyErrorKind.Timeout, ProxyMessages.RequestTimeout(binding.Name, limit, call.Attempts));
    }

    private static void FailFromAttempt(ProxyCall call, string cluster)
    {
        var kind = ProxyMessages.KindOf(call.Outcome);
        if (kind == ProxyErrorKind.PerTryTimeout)
            call.Route!.Stats.Timeout();
        call.Fail(kind, Describe(call, cluster) + ProxyMessages.Attempts(call.Attempts));
    }

    private static string Describe(ProxyCall call, string cluster)
    {
        var reason = call.Exception?.InnerException?.Message ?? call.Exception?.Message ?? call.ForwarderError.ToString();
        return ProxyMessages.Attempt(cluster, call.Endpoint?.Endpoint.HostPort ?? "?", call.Declined, call.Status, call.Outcome, reason, call.Route!.Action.PerTryTimeout);
    }
}
