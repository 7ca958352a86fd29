using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Weft.Core.Catalog;
using Weft.Core.Health;

namespace Weft.Core.Tests.Health;

public sealed class TcpProbeTests
{
    private static CheckDefinition Check(string target) => new()
    {
        Type = CheckTypes.Tcp,
        Tcp = target,
        Timeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Probe_PortListening_ReportsSuccess()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var target = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";

            var result = await new TcpProbe(Check(target), TimeProvider.System).ProbeAsync(CancellationToken.None);

            Assert.Equal(new ProbeResult(HealthStatus.Passing, $"TCP connect {target}: Success"), result);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task Probe_PortClosed_ReportsCriticalWithSocketError()
    {
        var target = $"127.0.0.1:{TestPorts.Closed()}";

        var result = await new TcpProbe(Check(target), TimeProvider.System).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith($"dial tcp {target}: ", result.Output);
        Assert.Contains("refused", result.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Probe_TargetWithoutPort_ReportsCritical()
    {
        var result = await new TcpProbe(Check("localhost"), new FakeTimeProvider()).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.Contains("host:port", result.Output);
    }

    [Fact]
    public async Task Probe_CallerAlreadyCancelled_Throws()
    {
        var target = $"127.0.0.1:{TestPorts.Closed()}";

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => new TcpProbe(Check(target), TimeProvider.System).ProbeAsync(new CancellationToken(canceled: true)).AsTask());
    }
}
