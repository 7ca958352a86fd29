using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Weft.Core.Catalog;
using Weft.Core.Health;

namespace Weft.Core.Tests.Health;

public sealed class HttpProbeTests : IClassFixture<HttpTargetServer>, IAsyncLifetime
{
    private readonly HttpTargetServer _server;
    private readonly FakeTimeProvider _time = new();
    private readonly HealthProbeFactory _factory;

    public HttpProbeTests(HttpTargetServer server)
    {
        _server = server;
        _factory = new HealthProbeFactory(_time);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    private CheckDefinition Check(string path) => new()
    {
        Type = CheckTypes.Http,
        Http = _server.BaseUrl + path,
        Timeout = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task Probe_Returns200_ReportsPassingWithConsulOutput()
    {
        var url = _server.BaseUrl + "/ok";

        var result = await _factory.Create(Check("/ok")).ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Passing, $"HTTP GET {url}: 200 OK Output: {HttpTargetServer.OkBody}"), result);
    }

    [Fact]
    public async Task Probe_Returns429_ReportsWarning()
    {
        var result = await _factory.Create(Check("/busy")).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Warning, result.Status);
        Assert.Contains(": 429 Too Many Requests Output: slow down", result.Output);
    }

    [Fact]
    public async Task Probe_Returns500_ReportsCriticalWithBody()
    {
        var result = await _factory.Create(Check("/fail")).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.EndsWith($": 500 Internal Server Error Output: {HttpTargetServer.FailBody}", result.Output);
    }

    [Fact]
    public async Task Probe_Redirect_IsNotFollowedAndReportsCritical()
    {
        var result = await _factory.Create(Check("/moved")).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.Contains(": 302 Found", result.Output);
    }

    [Fact]
    public async Task Probe_SendsMethodHeadersAndBody_WithConsulDefaults()
    {
        var definition = Check("/echo") with
        {
            Method = "post",
            Body = "ping",
            Header = ImmutableSortedDictionary<string, ImmutableArray<string>>.Empty
                .Add("X-Multi", ["one", "two"])
                .Add("Content-Type", ["application/json"]),
        };

        var result = await _factory.Create(definition).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Passing, result.Status);
        Assert.StartsWith($"HTTP POST {definition.Http}: 200 OK", result.Output);
        Assert.EndsWith("Output: POST|Consul Health Check|text/plain, text/*, */*|one, two|application/json|ping", result.Output);
    }

    [Fact]
    public async Task Probe_UserAgentHeaderGiven_SendsItInsteadOfConsuls()
    {
        var definition = Check("/echo") with
        {
            Header = ImmutableSortedDictionary<string, ImmutableArray<string>>.Empty.Add("User-Agent", ["probe/1"]),
        };

        var result = await _factory.Create(definition).ProbeAsync(CancellationToken.None);

        Assert.Contains("Output: GET|probe/1|", result.Output);
    }

    [Fact]
    public async Task Probe_LargeBody_KeepsOnlyTheFirst4KiB()
    {
        var result = await _factory.Create(Check("/big")).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Passing, result.Status);
        Assert.EndsWith("Output: " + new string('a', 4096), result.Output);
        Assert.DoesNotContain('b', result.Output[result.Output.IndexOf("Output: ", StringComparison.Ordinal)..]);
    }

    [Fact]
    public async Task Probe_ServerNeverAnswers_ReportsTimeoutAsCritical()
    {
        var pending = _factory.Create(Check("/slow")).ProbeAsync(CancellationToken.None).AsTask();

        _time.Advance(TimeSpan.FromSeconds(1));
        var result = await pending;

        Assert.Equal(new ProbeResult(HealthStatus.Critical, $"HTTP GET {_server.BaseUrl}/slow: timed out after 1s"), result);
    }

    [Fact]
    public async Task Probe_CallerCancels_ThrowsInsteadOfReporting()
    {
        using var shutdown = new CancellationTokenSource();
        var pending = _factory.Create(Check("/slow")).ProbeAsync(shutdown.Token).AsTask();

        await shutdown.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Fact]
    public async Task Probe_NothingListening_ReportsCriticalWithTheError()
    {
        var url = $"http://127.0.0.1:{TestPorts.Closed()}/health";
        var definition = Check("") with { Http = url };

        var result = await _factory.Create(definition).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith($"HTTP GET {url}: ", result.Output);
        Assert.Contains("refused", result.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Probe_HttpsWithUntrustedCertificate_ReportsCritical()
    {
        var url = _server.HttpsBaseUrl + "/ok";

        var result = await _factory.Create(Check("") with { Http = url }).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith($"HTTP GET {url}: The SSL connection could not be established", result.Output);
    }

    [Fact]
    public async Task Probe_HttpsWithTlsSkipVerify_ReportsPassing()
    {
        var url = _server.HttpsBaseUrl + "/ok";

        var result = await _factory.Create(Check("") with { Http = url, TlsSkipVerify = true }).ProbeAsync(CancellationToken.None);

        Assert.Equal(new ProbeResult(HealthStatus.Passing, $"HTTP GET {url}: 200 OK Output: {HttpTargetServer.OkBody}"), result);
    }

    [Fact]
    public async Task Probe_TlsServerName_IsSentAsSni()
    {
        var definition = Check("") with { Http = _server.HttpsBaseUrl + "/sni", TlsSkipVerify = true, TlsServerName = HttpTargetServer.TlsName };

        var result = await _factory.Create(definition).ProbeAsync(CancellationToken.None);

        Assert.EndsWith($"Output: {HttpTargetServer.TlsName}", result.Output);
    }

    [Fact]
    public async Task Probe_MalformedUrl_ReportsCriticalWithoutThrowing()
    {
        var result = await _factory.Create(Check("") with { Http = "not a url" }).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith("HTTP GET not a url: ", result.Output);
    }

    [Fact]
    public async Task Probe_SchemeOtherThanHttp_ReportsCriticalWithoutThrowing()
    {
        var result = await _factory.Create(Check("") with { Http = "ftp://127.0.0.1/health" }).ProbeAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Critical, result.Status);
        Assert.StartsWith("HTTP GET ftp://127.0.0.1/health: ", result.Output);
    }
}
