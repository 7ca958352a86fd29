using System.Net;
using System.Net.Sockets;
using Weft.Core.Catalog;

namespace Weft.Core.Health;

/// <summary>Consul's TCP check: passing when a connection to <c>host:port</c> opens, critical otherwise.</summary>
internal sealed class TcpProbe : IHealthProbe
{
    private readonly CheckDefinition _definition;
    private readonly TimeProvider _timeProvider;

    public TcpProbe(CheckDefinition definition, TimeProvider timeProvider)
    {
        _definition = definition;
        _timeProvider = timeProvider;
    }

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var target = _definition.Tcp;
        // Consul prints Go's dial error, which reads "dial tcp host:port: <reason>".
        var prefix = $"dial tcp {target}";
        if (!HostPort.TryParse(target, out var host, out var port))
            return ProbeResult.Critical($"{prefix}: address must be host:port");

        using var timeout = new ProbeTimeout(_definition.EffectiveTimeout, _timeProvider, cancellationToken);
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            EndPoint endPoint = IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
            await socket.ConnectAsync(endPoint, timeout.Token).ConfigureAwait(false);
            return ProbeResult.Passing($"TCP connect {target}: Success");
        }
        catch (OperationCanceledException)
        {
            timeout.ThrowIfCallerCancelled();
            return ProbeResult.Critical($"{prefix}: i/o timeout after {timeout.DurationText}");
        }
        catch (SocketException e)
        {
            return ProbeResult.Critical($"{prefix}: {e.Message}");
        }
    }
}
