using System.Net;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Hosting;

/// <summary>Every message the data plane logs, with stable event ids.</summary>
internal static partial class ProxyLog
{
    [LoggerMessage(3001, LogLevel.Information, "Proxy {Service} listening: inbound {Inbound}, outbound {Outbound}, admin {Admin}")]
    public static partial void Listening(this ILogger log, string service, IPEndPoint inbound, IPEndPoint outbound, IPEndPoint admin);

    [LoggerMessage(3002, LogLevel.Information, "Applied mesh snapshot {Version}: {Upstreams} upstreams, {Clusters} clusters")]
    public static partial void SnapshotApplied(this ILogger log, ulong version, int upstreams, int clusters);

    [LoggerMessage(3003, LogLevel.Warning, "Rejected mesh snapshot {Version}: {Reason}")]
    public static partial void SnapshotRejected(this ILogger log, ulong version, string reason);

    [LoggerMessage(3004, LogLevel.Debug, "Attempt to {Cluster} at {Endpoint} failed: {Error}")]
    public static partial void AttemptFailed(this ILogger log, string cluster, string endpoint, ForwarderError error, Exception? exception);

    [LoggerMessage(3007, LogLevel.Debug, "Fast-path attempt to {Cluster} at {Endpoint} failed: {Outcome}")]
    public static partial void FastAttemptFailed(this ILogger log, string cluster, string endpoint, Weft.Proxy.LoadBalancing.AttemptOutcome outcome, Exception? exception);

    [LoggerMessage(3005, LogLevel.Debug, "TCP connection to {Upstream} at {Endpoint} failed")]
    public static partial void TcpConnectFailed(this ILogger log, string upstream, string endpoint, Exception exception);

    [LoggerMessage(3020, LogLevel.Debug, "Inbound TCP connection from {Source} to {Destination} closed: intention-denied")]
    public static partial void TcpIntentionDenied(this ILogger log, string source, string destination);

    [LoggerMessage(3006, LogLevel.Information, "Draining: waiting up to {Drain} for in-flight requests")]
    public static partial void Draining(this ILogger log, TimeSpan drain);
}
