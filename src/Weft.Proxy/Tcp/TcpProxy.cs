using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Metrics;
using Weft.Proxy.Routing;

namespace Weft.Proxy.Tcp;

/// <summary>
/// Raw TCP proxying for upstreams whose protocol is <c>tcp</c>: one picked endpoint per connection, bytes piped both
/// ways until either side closes (half-close is passed on), counted per upstream.
/// </summary>
internal sealed class TcpProxy(ProxyMetrics metrics, TimeProvider time, ILogger log)
{
    /// <summary>
    /// The L4 intention decision for an inbound connection, taken once at accept: the caller is the service named by the
    /// connection's client certificate (unknown without one). A refused connection is counted and closed unanswered.
    /// </summary>
    public bool Admit(ConnectionContext connection, InboundIntentions intentions)
    {
        var certificate = connection.Features.Get<Microsoft.AspNetCore.Http.Features.ITlsConnectionFeature>()?.ClientCertificate;
        var source = Transport.PeerIdentity.FromCertificate(certificate)?.Service;
        if (intentions.AllowsConnection(source))
            return true;
        metrics.IntentionDenied();
        log.TcpIntentionDenied(source ?? "(unknown caller)", intentions.Destination);
        return false;
    }

    public async Task ProxyAsync(ConnectionContext connection, UpstreamRoutes upstream)
    {
        var binding = upstream.DefaultCluster;
        var stats = metrics.Tcp(upstream.Service);
        var endpoint = binding.Cluster.Pick(null);
        if (endpoint is null)
        {
            stats.ConnectFailed();
            return;
        }

        var started = time.GetTimestamp();
        var outcome = AttemptOutcome.Success;
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // Not linked to ConnectionClosed: Kestrel signals it on the client's FIN, and a client may send and
            // half-close before the upstream connection is even up.
            using (var connect = new CancellationTokenSource(binding.ConnectTimeout, time))
            {
                try
                {
                    await socket.ConnectAsync(new DnsEndPoint(endpoint.Endpoint.Address, endpoint.Endpoint.Port), connect.Token);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    outcome = AttemptOutcome.ConnectFailure;
                    stats.ConnectFailed();
                    log.TcpConnectFailed(upstream.Service, endpoint.Endpoint.HostPort, e);
                    return;
                }
            }

            stats.Connected();
            var toUpstream = PumpAsync(connection.Transport.Input, socket, stats);
            var fromUpstream = PumpAsync(socket, connection.Transport.Output, stats);
            await Task.WhenAll(toUpstream, fromUpstream);
        }
        catch (Exception e) when (e is SocketException or IOException or ConnectionResetException or OperationCanceledException)
        {
            outcome = AttemptOutcome.Reset;
        }
        finally
        {
            binding.Cluster.Report(endpoint, outcome, time.GetElapsedTime(started));
        }
    }

    private static async Task PumpAsync(PipeReader from, Socket to, TcpStats stats)
    {
        try
        {
            while (true)
            {
                var result = await from.ReadAsync();
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    var sent = 0;
                    while (sent < segment.Length)
                        sent += await to.SendAsync(segment[sent..], SocketFlags.None);
                    stats.Sent(segment.Length);
                }

                from.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                    break;
            }
        }
        finally
        {
            await from.CompleteAsync();
            // The client finished sending: pass the half-close on, keep reading the upstream's reply.
            try { to.Shutdown(SocketShutdown.Send); } catch (SocketException) { }
            catch (ObjectDisposedException) { }
        }
    }

    private static async Task PumpAsync(Socket from, PipeWriter to, TcpStats stats)
    {
        try
        {
            while (true)
            {
                var memory = to.GetMemory(16 * 1024);
                var n = await from.ReceiveAsync(memory, SocketFlags.None);
                if (n == 0)
                    break;
                to.Advance(n);
                stats.Received(n);
                var flush = await to.FlushAsync();
                if (flush.IsCompleted || flush.IsCanceled)
                    break;
            }
        }
        finally
        {
            await to.CompleteAsync();
        }
    }
}
