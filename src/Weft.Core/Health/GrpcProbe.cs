using Grpc.Core;
using Grpc.Health.V1;
using Weft.Core.Catalog;

namespace Weft.Core.Health;

/// <summary>
/// Consul's gRPC check: calls grpc.health.v1 Health/Check on <c>host:port</c>, for the service named after
/// a slash (<c>host:port/service</c>) or the whole server; SERVING is passing, anything else critical.
/// </summary>
internal sealed class GrpcProbe : IHealthProbe
{
    private readonly CheckDefinition _definition;
    private readonly GrpcChannelCache _channels;
    private readonly TimeProvider _timeProvider;

    public GrpcProbe(CheckDefinition definition, GrpcChannelCache channels, TimeProvider timeProvider)
    {
        _definition = definition;
        _channels = channels;
        _timeProvider = timeProvider;
    }

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var target = _definition.Grpc;
        var slash = target.IndexOf('/', StringComparison.Ordinal);
        var address = slash < 0 ? target : target[..slash];
        var service = slash < 0 ? "" : target[(slash + 1)..];
        if (!HostPort.TryParse(address, out _, out _))
            return ProbeResult.Critical($"gRPC check {target}: address must be host:port or host:port/service");

        using var timeout = new ProbeTimeout(_definition.EffectiveTimeout, _timeProvider, cancellationToken);
        try
        {
            using var lease = _channels.Rent(address, _definition.GrpcUseTls, _definition.TlsSkipVerify);
            var client = new Grpc.Health.V1.Health.HealthClient(lease.Channel);
            var response = await client.CheckAsync(new HealthCheckRequest { Service = service }, cancellationToken: timeout.Token)
                .ConfigureAwait(false);
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving
                ? ProbeResult.Passing($"gRPC check {target}: success")
                : ProbeResult.Critical($"gRPC {target} serving status: {ServingStatusName(response.Status)}");
        }
        catch (Exception e) when (e is OperationCanceledException || e is RpcException { StatusCode: StatusCode.Cancelled } && timeout.Token.IsCancellationRequested)
        {
            timeout.ThrowIfCallerCancelled();
            return ProbeResult.Critical($"gRPC check {target}: timed out after {timeout.DurationText}");
        }
        catch (RpcException e)
        {
            return ProbeResult.Critical($"gRPC check {target}: rpc error: code = {e.StatusCode} desc = {e.Status.Detail}");
        }
    }

    /// <summary>The proto enum name (NOT_SERVING), which Consul prints, rather than C#'s NotServing.</summary>
    private static string ServingStatusName(HealthCheckResponse.Types.ServingStatus status) => status switch
    {
        HealthCheckResponse.Types.ServingStatus.Unknown => "UNKNOWN",
        HealthCheckResponse.Types.ServingStatus.Serving => "SERVING",
        HealthCheckResponse.Types.ServingStatus.NotServing => "NOT_SERVING",
        HealthCheckResponse.Types.ServingStatus.ServiceUnknown => "SERVICE_UNKNOWN",
        _ => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
