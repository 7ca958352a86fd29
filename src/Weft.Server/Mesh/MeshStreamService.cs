using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Weft.Core.Catalog;
using Weft.Core.Mesh;
using Weft.Core.Mesh.Protocol;
using Weft.Server.Acl;
using Weft.Server.Api;
using Weft.Server.Catalog;
using Weft.Server.Health;
using Weft.Server.Metrics;
using Weft.Server.Registry;

namespace Weft.Server.Mesh;

/// <summary>
/// The proxy stream: after the sidecar's Hello, a full snapshot of every service's healthy endpoints and
/// every config entry, then a delta whenever the catalog changes what it was sent. Acks and nacks are
/// recorded per session; Hello and each Heartbeat refresh the sidecar's <c>sidecar:&lt;proxy_id&gt;</c> TTL check.
/// A service token may stream only as its own service; deleting the token ends its streams.
/// </summary>
internal sealed partial class MeshStreamService(
    CatalogStore catalog,
    ProxySessions sessions,
    CheckScheduler checks,
    ServerIdentity self,
    MeshListener listener,
    AclTokens tokens,
    IntentionDefaults intentionDefaults,
    TimeProvider time,
    ServerMetrics metrics,
    Weft.Server.Stats.MeshStats stats,
    IHostApplicationLifetime lifetime,
    ILogger<MeshStreamService> logger) : MeshStream.MeshStreamBase
{
    public const string HeartbeatOutput = "weft proxy stream open";

    public override async Task Stream(IAsyncStreamReader<ProxyMessage> requestStream, IServerStreamWriter<ServerMessage> responseStream, ServerCallContext context)
    {
        // Only on the gRPC listener: the HTTP API's port does not serve the stream.
        if (context.GetHttpContext().Connection.LocalPort != listener.Port)
            throw new RpcException(new Status(StatusCode.Unimplemented, "the proxy stream is served on the gRPC address (--grpc-addr)"));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        if (!await requestStream.MoveNext(stop.Token) || requestStream.Current.KindCase != ProxyMessage.KindOneofCase.Hello)
            throw new RpcException(new Status(StatusCode.InvalidArgument, "the first message on the stream must be Hello"));
        var hello = requestStream.Current.Hello;
        if (string.IsNullOrWhiteSpace(hello.ProxyId) || string.IsNullOrWhiteSpace(hello.Service))
            throw new RpcException(new Status(StatusCode.InvalidArgument, "Hello needs service and proxy_id"));

        var identity = AclIdentity.Of(context.GetHttpContext());
        Authorize(identity, hello);

        var session = new ProxySession(hello, time.GetUtcNow(), identity.AccessorId);
        sessions.Add(session);
        // A delete that ran between the token check and Add did not see this session: end it here instead.
        if (!identity.IsManagement && tokens.Find(identity.AccessorId) is null)
            session.Close("the ACL token this stream was opened with was deleted");
        LogConnected(session.ProxyId, session.Service);
        using var end = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, session.Closed);
        try
        {
            await HeartbeatAsync(session);
            var reading = ReadAsync(requestStream, session, end.Token);
            var writing = WriteAsync(responseStream, session, end.Token);
            await Task.WhenAny(reading, writing);
            await end.CancelAsync();
            try
            {
                await Task.WhenAll(reading, writing);
            }
            catch (Exception) when (end.IsCancellationRequested)
            {
                // The other half ended the stream; how this half stopped does not matter.
            }

            if (lifetime.ApplicationStopping.IsCancellationRequested)
                throw new RpcException(new Status(StatusCode.Unavailable, "the server is shutting down"));
            if (session.ClosedReason is { } reason)
            {
                LogClosedByServer(session.ProxyId, reason);
                throw new RpcException(new Status(StatusCode.PermissionDenied, $"Permission denied: {reason}"));
            }
        }
        finally
        {
            sessions.Remove(session);
            LogDisconnected(session.ProxyId, session.AckedVersion);
        }
    }

    /// <summary>A service token streams as its own service, and only for a proxy ID that is not another service's sidecar.</summary>
    private void Authorize(AclIdentity identity, Hello hello)
    {
        if (identity.IsManagement) return;
        if (!identity.CanWriteService(hello.Service))
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"Permission denied: token with AccessorID '{identity.AccessorId}' is for service \"{identity.Service}\" and may not stream as \"{hello.Service}\""));
        var heartbeat = catalog.Current.Checks.GetValueOrDefault(new CheckKey(self.NodeName, MeshWire.HeartbeatCheckId(hello.ProxyId)));
        if (heartbeat is not null && heartbeat.ServiceName != identity.Service)
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"Permission denied: proxy ID \"{hello.ProxyId}\" is a sidecar of \"{heartbeat.ServiceName}\", not of \"{identity.Service}\""));
    }

    private async Task ReadAsync(IAsyncStreamReader<ProxyMessage> requests, ProxySession session, CancellationToken cancellationToken)
    {
        while (await requests.MoveNext(cancellationToken))
        {
            var message = requests.Current;
            switch (message.KindCase)
            {
                case ProxyMessage.KindOneofCase.Ack:
                    session.Acked(message.Ack.Version);
                    break;
                case ProxyMessage.KindOneofCase.Nack:
                    session.Nacked(message.Nack.Version, message.Nack.Reason);
                    sessions.CountNack();
                    LogNack(session.ProxyId, message.Nack.Version, message.Nack.Reason);
                    break;
                case ProxyMessage.KindOneofCase.Heartbeat:
                    await HeartbeatAsync(session);
                    break;
                case ProxyMessage.KindOneofCase.Stats:
                    session.Reported(message.Stats, time.GetUtcNow());
                    stats.Report(session.ProxyId, session.Service, message.Stats);
                    break;
            }
        }
    }

    private async Task WriteAsync(IServerStreamWriter<ServerMessage> responses, ProxySession session, CancellationToken cancellationToken)
    {
        var sentServices = new Dictionary<string, EndpointSet>(StringComparer.Ordinal);
        var sentEntries = new Dictionary<(string, string), ulong>();

        // Marks made before this point are covered by the snapshot read after it.
        session.TakeDirty();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var state = catalog.Current;
        var snapshot = new ServerMessage { Version = state.Index, Full = true, IntentionsDefaultAllow = intentionDefaults.Allow };
        foreach (var name in state.ServicesByName.Keys)
        {
            var set = MeshWire.EndpointsOf(state, name)!;
            sentServices[name] = set;
            snapshot.EndpointSets.Add(set);
        }

        foreach (var (key, entry) in state.ConfigEntries)
        {
            sentEntries[key] = entry.ModifyIndex;
            snapshot.Entries.Add(MeshWire.ToWire(entry));
        }

        await responses.WriteAsync(snapshot, cancellationToken);
        metrics.Pushed(System.Diagnostics.Stopwatch.GetElapsedTime(started));
        session.Sent(snapshot.Version);

        while (await session.WaitForChangeAsync(cancellationToken))
        {
            started = System.Diagnostics.Stopwatch.GetTimestamp();
            var (services, entries, oldestCommit) = session.TakeDirty();
            state = catalog.Current;
            var delta = new ServerMessage { Version = state.Index };
            foreach (var name in services)
            {
                var set = MeshWire.EndpointsOf(state, name);
                if (set is null)
                {
                    if (sentServices.Remove(name)) delta.RemovedServices.Add(name);
                }
                else if (!sentServices.TryGetValue(name, out var old) || !old.Equals(set))
                {
                    sentServices[name] = set;
                    delta.EndpointSets.Add(set);
                }
            }

            foreach (var key in entries)
            {
                var entry = state.ConfigEntry(key.Kind, key.Name);
                if (entry is null)
                {
                    if (sentEntries.Remove(key)) delta.RemovedEntries.Add(new EntryKey { Kind = key.Kind, Name = key.Name });
                }
                else if (!sentEntries.TryGetValue(key, out var modified) || modified != entry.ModifyIndex)
                {
                    sentEntries[key] = entry.ModifyIndex;
                    delta.Entries.Add(MeshWire.ToWire(entry));
                }
            }

            if (delta.EndpointSets.Count + delta.RemovedServices.Count + delta.Entries.Count + delta.RemovedEntries.Count == 0)
                continue;
            await responses.WriteAsync(delta, cancellationToken);
            metrics.Pushed(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            if (oldestCommit != 0)
                metrics.PushLatency.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(oldestCommit));
            session.Sent(delta.Version);
        }
    }

    private async Task HeartbeatAsync(ProxySession session)
    {
        session.Heartbeat();
        try
        {
            await checks.ReportTtlAsync(new CheckKey(self.NodeName, MeshWire.HeartbeatCheckId(session.ProxyId)), HealthStatus.Passing, HeartbeatOutput);
        }
        catch (ApiException)
        {
            // The sidecar has not registered its check (yet): the stream works without it.
            LogNoHeartbeatCheck(session.ProxyId);
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Proxy {ProxyId} ({Service}) connected to the stream")]
    private partial void LogConnected(string proxyId, string service);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Proxy {ProxyId} left the stream (acknowledged version {Version})")]
    private partial void LogDisconnected(string proxyId, ulong version);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Proxy {ProxyId} rejected version {Version}: {Reason}")]
    private partial void LogNack(string proxyId, ulong version, string reason);

    [LoggerMessage(EventId = 504, Level = LogLevel.Information, Message = "Closed the stream of proxy {ProxyId}: {Reason}")]
    private partial void LogClosedByServer(string proxyId, string reason);

    [LoggerMessage(EventId = 503, Level = LogLevel.Debug, Message = "Proxy {ProxyId} has no TTL check sidecar:{ProxyId} to keep passing")]
    private partial void LogNoHeartbeatCheck(string proxyId);
}
