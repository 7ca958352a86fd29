namespace Weft.Proxy.Forwarding;

/// <summary>
/// Picks an endpoint for one attempt (another than those already tried, when there is one) and, when the attempt ends,
/// reports how it went: the outcome, and the latency to the response head when there was one (a streamed body says
/// nothing about the endpoint). Nothing to await of its own: the report runs from <see cref="ProxyCall.EndAttempt"/>.
/// </summary>
internal sealed class BalanceLayer(ProxyLayer next) : ProxyLayer
{
    private static readonly Action<ProxyCall, long> s_report = static (call, started) =>
    {
        var end = call.HeadersAt != 0 ? call.HeadersAt : call.Time.GetTimestamp();
        call.Target!.Binding.Cluster.Report(call.Endpoint!, call.Outcome, call.Time.GetElapsedTime(started, end));
    };

    public override ValueTask InvokeAsync(ProxyCall call)
    {
        var binding = call.Target!.Binding;
        var endpoint = binding.Cluster.Pick(call.Http, call.Tried);
        if (endpoint is null)
        {
            call.Fail(ProxyErrorKind.NoHealthyEndpoint, ProxyMessages.NoHealthyEndpoint(binding, call.Table.Version));
            return ValueTask.CompletedTask;
        }

        call.Endpoint = endpoint;
        call.OnAttemptEnd(s_report, call.Time.GetTimestamp());
        return next.InvokeAsync(call);
    }
}
