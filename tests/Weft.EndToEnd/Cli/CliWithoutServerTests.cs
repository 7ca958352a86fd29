using System.Net;
using System.Net.Sockets;

namespace Weft.EndToEnd.Cli;

/// <summary>What the operator sees when there is no server to talk to, or the command line is wrong.</summary>
public sealed class CliWithoutServerTests
{
    [Theory]
    [InlineData("services")]
    [InlineData("instances", "web")]
    [InlineData("deregister", "web-1")]
    public async Task ClosedPort_ExitsThreeAndSaysWhereItLooked(params string[] command)
    {
        var port = ClosedPort();

        var result = await CliInvocation.RunAsync([.. command, "--http-addr", $"127.0.0.1:{port}"]);

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.StartsWith($"weft: cannot reach the server at http://127.0.0.1:{port}: ", result.Stderr);
        Assert.Contains("Is weft server running? Set WEFT_HTTP_ADDR to its address.", result.Stderr);
    }

    [Fact]
    public async Task Proxy_MetricsSwitchOtherThanOnOrOff_IsBadInput()
    {
        var result = await CliInvocation.RunProcessAsync(null, "proxy", "--service", "web", "--app-addr", "127.0.0.1:1", "--metrics", "maybe");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--metrics: \"maybe\" is neither on nor off", result.Stderr);
    }

    [Fact]
    public async Task Proxy_MalformedKeepAliveFlags_AreBadInput()
    {
        var result = await CliInvocation.RunAsync("proxy", "--service", "web", "--app-addr", "127.0.0.1:8080",
            "--h2-keepalive-interval", "soon", "--h2-keepalive-timeout", "0");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--h2-keepalive-interval: ", result.Stderr);
        Assert.Contains("--h2-keepalive-timeout: must be > 0", result.Stderr);
    }

    [Fact]
    public async Task UnknownOption_ExitsTwo()
    {
        var result = await CliInvocation.RunAsync("services", "--no-such-option");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--no-such-option", result.Stderr);
    }

    [Fact]
    public async Task Proxy_MalformedTracingAndAccessLogFlags_ExitsTwoAndSaysWhatIsWrongWithEach()
    {
        var result = await CliInvocation.RunAsync("proxy", "--service", "web", "--app-addr", "127.0.0.1:8080",
            "--otlp-endpoint", "ftp://collector", "--otlp-protocol", "http/json", "--trace-sampling", "2", "--access-log", "/no/such/dir/access.log", "--access-log-sampling", "half");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("weft proxy: --otlp-endpoint: \"ftp://collector\" is not an http:// or https:// URL", result.Stderr);
        Assert.Contains("weft proxy: --otlp-protocol: \"http/json\" is not one of http/protobuf, grpc", result.Stderr);
        Assert.Contains("weft proxy: --trace-sampling: \"2\" is not a ratio from 0 to 1", result.Stderr);
        Assert.Contains("weft proxy: --access-log: directory \"/no/such/dir\" does not exist", result.Stderr);
        Assert.Contains("weft proxy: --access-log-sampling: \"half\" is not a ratio from 0 to 1", result.Stderr);
    }

    [Fact]
    public async Task Proxy_UnsupportedOtlpProtocolInTheEnvironment_ExitsTwoAndNamesTheVariable()
    {
        var result = await CliInvocation.RunProcessAsync(null, new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json" },
            "proxy", "--service", "web", "--app-addr", "127.0.0.1:8080", "--otlp-endpoint", "http://127.0.0.1:4317");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("weft proxy: OTEL_EXPORTER_OTLP_PROTOCOL: \"http/json\" is not one of http/protobuf, grpc", result.Stderr);
    }

    [Fact]
    public async Task UnusableAddress_ExitsTwo()
    {
        var result = await CliInvocation.RunAsync("services", "--http-addr", "ftp://example.com");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("\"ftp://example.com\" is not a server address", result.Stderr);
    }

    /// <summary>A loopback port that was free a moment ago and now has no listener.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
