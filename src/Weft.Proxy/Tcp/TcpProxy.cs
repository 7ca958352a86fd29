using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Metrics;
using Weft.Proxy.Routing;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Tcp;

/// <summary>
/// Raw TCP proxying for upstreams whose protocol is <c>tcp</c>: one picked endpoint per connection, bytes piped both
/// ways until either side closes (half-close is passed on), counted per upstream.
/// </summary>
internal sealed class TcpProxy(IUpstreamTransport transport, ProxyMetrics metrics, TimeProvider time, ILogger log)
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
        Stream? stream = null;
        try
        {
            // Not linked to ConnectionClosed: Kestrel signals it on the client's FIN, and a client may send and
            // half-close before the upstream connection is even up.
            using (var connect = new CancellationTokenSource(binding.ConnectTimeout, time))
            {
                try
                {
                    // To a sidecar this is mTLS, checked like HTTP; the bytes inside are the app's.
                    stream = await transport.ConnectAsync(endpoint.Sidecar ? PeerKind.Sidecar : PeerKind.Direct, binding.Service,
                        new DnsEndPoint(endpoint.Endpoint.Address, endpoint.Endpoint.Port), connect.Token);
                }
                catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
                {
                    outcome = AttemptOutcome.ConnectFailure;
                    stats.ConnectFailed();
                    log.TcpConnectFailed(upstream.Service, endpoint.HostPort, e);
                    return;
                }
            }

            stats.Connected();
            var toUpstream = PumpAsync(connection.Transport.Input, stream, stats);
            var fromUpstream = PumpAsync(stream, connection.Transport.Output, stats);
            await Task.WhenAll(toUpstream, fromUpstream);
        }
        catch (Exception e) when (e is SocketException or IOException or ConnectionResetException or OperationCanceledException)
        {
            outcome = AttemptOutcome.Reset;
        }
        finally
        {
            if (stream is not null)
                await stream.DisposeAsync();
            binding.Cluster.Report(endpoint, outcome, time.GetElapsedTime(started));
        }
    }

    private static async Task PumpAsync(PipeReader from, Stream to, TcpStats stats)
    {
        try
        {
            while (true)
            {
                var result = await from.ReadAsync();
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    await to.WriteAsync(segment);
                    stats.Sent(segment.Length);
                }

                await to.FlushAsync();

                from.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                    break;
            }
        }
        finally
        {
            await from.CompleteAsync();
            // The client finished sending: pass the half-close on (as a TLS close_notify to a sidecar, a FIN otherwise), keep reading the upstream's reply.
            try
            {
                if (to is SslStream ssl)
                    await ssl.ShutdownAsync();
                else if (to is NetworkStream network)
                    network.Socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    private static async Task PumpAsync(Stream from, PipeWriter to, TcpStats stats)
    {
        try
        {
            while (true)
            {
                var memory = to.GetMemory(16 * 1024);
                var n = await from.ReadAsync(memory);
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
