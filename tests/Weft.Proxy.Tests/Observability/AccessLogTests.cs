using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Observability;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Observability;

public sealed class AccessLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("weft-access-log-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<JsonElement> Lines(string path) =>
        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public async Task Requests_OkAndNoHealthyEndpoint_OneJsonLineEachWithTheirFields()
    {
        var path = Path.Combine(_dir, "access.log");
        await using var backend = await Backend.StartAsync(a => a.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync("got " + await reader.ReadToEndAsync());
        }));
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { AccessLogPath = path });
        try
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("payments", [Mesh.Endpoint("p1", backend.Address)]), ("refunds", [])]));
            using var payments = Mesh.Client(proxy.OutboundAddress, "payments");
            using var ok = new HttpRequestMessage(HttpMethod.Post, "/pay?x=1") { Content = new StringContent("12345") };
            ok.Headers.TryAddWithoutValidation("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            Assert.Equal(HttpStatusCode.OK, (await payments.SendAsync(ok)).StatusCode);
            using var refunds = Mesh.Client(proxy.OutboundAddress, "refunds");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await refunds.GetAsync("/refund")).StatusCode);
        }
        finally
        {
            await proxy.DisposeAsync(); // writes what is queued and closes the file
        }

        var lines = Lines(path);
        Assert.Equal(2, lines.Count);
        var first = lines[0];
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", first.GetProperty("trace_id").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("source").ValueKind);
        Assert.Equal("outbound", first.GetProperty("direction").GetString());
        Assert.Equal("POST", first.GetProperty("method").GetString());
        Assert.Equal("payments", first.GetProperty("authority").GetString());
        Assert.Equal("/pay", first.GetProperty("path").GetString());
        Assert.Equal(200, first.GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("error").ValueKind);
        Assert.Equal(backend.Address.ToString(), first.GetProperty("upstream").GetString());
        Assert.Equal(0, first.GetProperty("retries").GetInt32());
        Assert.Equal(5, first.GetProperty("bytes_in").GetInt64());
        Assert.Equal("got 12345".Length, first.GetProperty("bytes_out").GetInt64());
        Assert.True(first.GetProperty("duration_ms").GetDouble() > 0);
        Assert.True(DateTimeOffset.Parse(first.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5));

        var second = lines[1];
        Assert.Equal(503, second.GetProperty("status").GetInt32());
        Assert.Equal("no-healthy-endpoint", second.GetProperty("error").GetString());
        Assert.Equal("refunds", second.GetProperty("authority").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("trace_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("upstream").ValueKind);
    }

    [Fact]
    public async Task Sampling_TenPercent_WritesAboutATenthOfTheRequests()
    {
        var path = Path.Combine(_dir, "sampled.log");
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { AccessLogPath = path, AccessLogSampling = 0.1 });
        const int requests = 300;
        try
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("payments", [Mesh.Endpoint("p1", backend.Address)])]));
            using var client = Mesh.Client(proxy.OutboundAddress, "payments");
            for (var i = 0; i < requests; i++)
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        }
        finally
        {
            await proxy.DisposeAsync();
        }

        // 30 expected; the bounds are more than six standard deviations away (binomial, sd ≈ 5.2).
        var written = Lines(path).Count;
        Assert.InRange(written, 3, 70);
    }

    [Fact]
    public async Task Off_ByDefault_NoAccessLog()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        Assert.Null(proxy.AccessLog);
    }

    [Theory]
    [InlineData("0", 0.0)]
    [InlineData("0.01", 0.01)]
    [InlineData("1", 1.0)]
    public void Ratio_InRange_Parses(string text, double expected)
    {
        Assert.True(Ratio.TryParse(text, out var ratio, out _));
        Assert.Equal(expected, ratio);
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("ten")]
    [InlineData("")]
    public void Ratio_Malformed_SaysWhatIsExpected(string text)
    {
        Assert.False(Ratio.TryParse(text, out _, out var error));
        Assert.Equal($"\"{text}\" is not a ratio from 0 to 1 (e.g. 0.01 for 1%)", error);
    }
}
