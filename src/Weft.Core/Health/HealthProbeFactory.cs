using Weft.Core.Catalog;

namespace Weft.Core.Health;

/// <summary>
/// Turns a <see cref="CheckDefinition"/> into the probe that runs it, handing every probe the shared HTTP
/// clients and gRPC channels. Dispose it when the server stops; probes it made must not run after that.
/// </summary>
internal sealed class HealthProbeFactory : IAsyncDisposable
{
    private readonly TimeProvider _timeProvider;
    private readonly HttpProbeClients _httpClients = new();
    private readonly GrpcChannelCache _grpcChannels;

    public HealthProbeFactory(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _grpcChannels = new GrpcChannelCache(timeProvider);
    }

    internal GrpcChannelCache GrpcChannels => _grpcChannels;

    public IHealthProbe Create(CheckDefinition definition) => definition.Type switch
    {
        CheckTypes.Http => new HttpProbe(definition, definition.TlsSkipVerify ? _httpClients.SkipVerify : _httpClients.Verifying, _timeProvider),
        CheckTypes.Tcp => new TcpProbe(definition, _timeProvider),
        CheckTypes.Grpc => new GrpcProbe(definition, _grpcChannels, _timeProvider),
        CheckTypes.Script => new ScriptProbe(definition, _timeProvider),
        CheckTypes.Ttl => throw new ArgumentException("TTL checks are reported from outside and have no probe.", nameof(definition)),
        _ => throw new ArgumentException($"Unknown check type '{definition.Type}'.", nameof(definition)),
    };

    public ValueTask DisposeAsync()
    {
        _grpcChannels.Dispose();
        _httpClients.Dispose();
        return ValueTask.CompletedTask;
    }
}
