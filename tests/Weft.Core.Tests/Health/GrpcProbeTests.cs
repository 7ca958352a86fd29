using System.Net;
using System.Net.Sockets;
using Grpc.Health.V1;
using Microsoft.Extensions.Time.Testing;
using Weft.Core.Catalog;
using Weft.Core.Health;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Weft.Core.Tests.Health;

public sealed class GrpcProbeTests : IClassFixture<GrpcTargetServer>, IAsyncLifetime
{
    private readonly GrpcTargetServer _server;
    private readonly FakeTimeProvider _time = new();
    private readonly HealthProbeFactory _factory;

    public GrpcProbeTests(GrpcTargetServer server)
    {
        _server = server;
        _factory = new HealthProbeFactory(_time);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    private static CheckDefinition Check(string target) => new()
    {
        Type = CheckTypes.Grpc,
        Grpc = target,
        Timeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Probe_ServiceServing_ReportsPassing()
    {
        _server.Health.SetStatus("orders", ServingStatus.Serving);
        var target = $"{_server.Address}/orders";

        var result = await _factory.Create(Check(target)).ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Passing, $"gRPC check {target}: success"), result);
    }

    [Fact]
    public async Task Probe_ServiceFlipsToNotServing_ReportsCritical()
    {
        _server.Health.SetStatus("billing", ServingStatus.Serving);
        var probe = _factory.Create(Check($"{_server.Address}/billing"));
        Assert.Equal(HealthStatus.Passing, (await probe.ProbeAsync(CancellationToken.None)).Status);

        _server.Health.SetStatus("billing", ServingStatus.NotServing);
        var result = await probe.ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Critical, $"gRPC {_server.Address}/billing serving status: NOT_SERVING"), result);
    }

    [Fact]
    public async Task Probe_NoServiceName_ChecksTheWholeServer()
    {
        _server.Health.SetStatus("", ServingStatus.Serving);

        var result = await _factory.Create(Check(_server.Address)).ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Passing, $"gRPC check {_server.Address}: success"), result);
    }

    [Fact]
    public async Task Probe_UnknownService_ReportsCriticalWithTheRpcError()
    {
        var target = $"{_server.Address}/never-registered";

        var result = await _factory.Create(Check(target)).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith($"gRPC check {target}: rpc error: code = NotFound", result.Output);
    }

    [Fact]
    public async Task Probe_NothingListening_ReportsCritical()
    {
        var target = $"127.0.0.1:{TestPorts.Closed()}";

        var result = await _factory.Create(Check(target)).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith($"gRPC check {target}: rpc error: code = Unavailable", result.Output);
    }

    [Fact]
    public async Task Probe_ServerNeverAnswers_ReportsTimeoutAsCritical()
    {
        // Accepts connections (the kernel completes them into the backlog) but never speaks HTTP/2.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            var target = $"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";
            var pending = _factory.Create(Check(target)).ProbeAsync(CancellationToken.None).AsTask();

            _time.Advance(TimeSpan.FromSeconds(5));
            var result = await pending;

            Assert.Equal(new ProbeResult(HealthStatus.Critical, $"gRPC check {target}: timed out after 5s"), result);
        }
        finally
        {
            silent.Stop();
        }
    }

    [Fact]
    public async Task Probe_ManyChecksOnOneTarget_ShareOneChannel()
    {
        _server.Health.SetStatus("a", ServingStatus.Serving);
        _server.Health.SetStatus("b", ServingStatus.Serving);

        await _factory.Create(Check($"{_server.Address}/a")).ProbeAsync(CancellationToken.None);
        await _factory.Create(Check($"{_server.Address}/b")).ProbeAsync(CancellationToken.None);
        await _factory.Create(Check($"{_server.Address}/a")).ProbeAsync(CancellationToken.None);

        Assert.Equal(1, _factory.GrpcChannels.Count);
    }

    [Fact]
    public async Task Probe_TargetIdleFiveMinutes_ItsChannelIsDisposed()
    {
        _server.Health.SetStatus("", ServingStatus.Serving);
        var closed = $"127.0.0.1:{TestPorts.Closed()}";
        await _factory.Create(Check(closed)).ProbeAsync(CancellationToken.None);
        Assert.Equal(1, _factory.GrpcChannels.Count);

        _time.Advance(GrpcChannelCache.IdleLifetime);
        var result = await _factory.Create(Check(_server.Address)).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Passing, result.Status);
        Assert.Equal(1, _factory.GrpcChannels.Count);
    }
}
