using System.Text.Json;

namespace Weft.EndToEnd.Cli;

/// <summary><c>weft config write|read|list|delete</c> against a real, open weft server.</summary>
public sealed class ConfigCommandTests(OpenServerFixture fixture) : IClassFixture<OpenServerFixture>, IDisposable
{
    private readonly RegistrationFiles _files = new();

    private string Addr => fixture.Server.Address;

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task WriteYaml_ThenRead_PrintsConsulsJsonWithTypedValues()
    {
        var path = _files.Write("checkout-router.yaml", """
            Kind: service-router
            Name: checkout
            Routes:
              - Match:
                  HTTP:
                    PathPrefix: /api
                    Methods: [GET, POST]
                Destination:
                  Service: checkout-api
                  NumRetries: 3
                  RetryOnConnectFailure: true
                  RetryOnStatusCodes: [502, 503]
                  RequestTimeout: 1.5s
            """);

        var write = await CliInvocation.RunAsync("config", "write", path, "--http-addr", Addr);
        Assert.True(write.ExitCode == 0, write.ToString());
        Assert.Equal("Config entry written: service-router/checkout", write.Stdout.Trim());

        var read = await CliInvocation.RunAsync("config", "read", "service-router", "checkout", "--http-addr", Addr);
        Assert.True(read.ExitCode == 0, read.ToString());
        using var json = JsonDocument.Parse(read.Stdout);
        var destination = json.RootElement.GetProperty("Routes")[0].GetProperty("Destination");
        Assert.Equal(3, destination.GetProperty("NumRetries").GetInt32());
        Assert.True(destination.GetProperty("RetryOnConnectFailure").GetBoolean());
        Assert.Equal([502, 503], destination.GetProperty("RetryOnStatusCodes").EnumerateArray().Select(c => c.GetInt32()));
        Assert.Equal("1.5s", destination.GetProperty("RequestTimeout").GetString());
        Assert.Equal("/api", json.RootElement.GetProperty("Routes")[0].GetProperty("Match").GetProperty("HTTP").GetProperty("PathPrefix").GetString());
        Assert.True(json.RootElement.GetProperty("ModifyIndex").GetUInt64() > 0);
    }

    [Fact]
    public async Task WriteJsonFromStdin_ThenList_ShowsTheEntryInTheTableAndAsJson()
    {
        var write = await CliInvocation.RunProcessAsync(
            """{"Kind":"service-splitter","Name":"cart","Splits":[{"Weight":90},{"Weight":10,"ServiceSubset":"v2"}]}""",
            "config", "write", "-", "--http-addr", Addr);
        Assert.True(write.ExitCode == 0, write.ToString());

        var table = await CliInvocation.RunAsync("config", "list", "service-splitter", "--http-addr", Addr);
        Assert.True(table.ExitCode == 0, table.ToString());
        var row = Assert.Single(table.Stdout.Split('\n'), l => l.TrimStart().StartsWith("cart ", StringComparison.Ordinal));
        Assert.Contains("cart 90%, cart/v2 10%", row);

        var list = await CliInvocation.RunAsync("config", "list", "service-splitter", "--json", "--http-addr", Addr);
        using var json = JsonDocument.Parse(list.Stdout);
        var cart = Assert.Single(json.RootElement.EnumerateArray(), e => e.GetProperty("Name").GetString() == "cart");
        Assert.Equal(2, cart.GetProperty("Splits").GetArrayLength());
    }

    [Fact]
    public async Task Delete_RemovesTheEntry_AndReadingItThenFailsWithTheServersMessage()
    {
        var path = _files.Write("gone.json", """{"Kind":"service-defaults","Name":"gone","Protocol":"grpc"}""");
        Assert.Equal(0, (await CliInvocation.RunAsync("config", "write", path, "--http-addr", Addr)).ExitCode);

        var delete = await CliInvocation.RunAsync("config", "delete", "service-defaults", "gone", "--http-addr", Addr);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal("Config entry deleted: service-defaults/gone", delete.Stdout.Trim());

        var read = await CliInvocation.RunAsync("config", "read", "service-defaults", "gone", "--http-addr", Addr);
        Assert.True(read.ExitCode == 1, read.ToString());
        Assert.Contains("404", read.Stderr);
        Assert.Contains("Config entry not found for \"service-defaults\" / \"gone\"", read.Stderr);
    }

    [Fact]
    public async Task AnEntryTheServerRefuses_ExitsOneWithItsReason_AndStoresNothing()
    {
        var path = _files.Write("bad-split.yaml", """
            Kind: service-splitter
            Name: badsplit
            Splits:
              - Weight: 70
              - Weight: 20
            """);

        var write = await CliInvocation.RunAsync("config", "write", path, "--http-addr", Addr);
        Assert.True(write.ExitCode == 1, write.ToString());
        Assert.StartsWith("weft: the server answered 400", write.Stderr);
        Assert.Contains("must sum to 100", write.Stderr);
        Assert.Equal(1, (await CliInvocation.RunAsync("config", "read", "service-splitter", "badsplit", "--http-addr", Addr)).ExitCode);
    }

    [Fact]
    public async Task AFileThatIsNeitherJsonNorYaml_OrHasNoKind_ExitsTwo()
    {
        var broken = _files.Write("broken.yaml", "Kind: service-defaults\nName: [unclosed\n");
        var result = await CliInvocation.RunAsync("config", "write", broken, "--http-addr", Addr);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("neither JSON nor valid YAML", result.Stderr);

        var kindless = _files.Write("kindless.yaml", "Name: web\n");
        result = await CliInvocation.RunAsync("config", "write", kindless, "--http-addr", Addr);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("has no Kind", result.Stderr);
    }
}
