using System.Text.Json;

namespace Weft.EndToEnd.Cli;

/// <summary><c>weft check</c> as a separate process against real servers, the way an operator runs it.</summary>
public sealed class CheckCommandTests(TokenServerFixture fixture) : IClassFixture<TokenServerFixture>
{
    [Fact]
    public async Task Check_HealthyTokenServer_AllGreenAndExitsZero()
    {
        var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", fixture.Server.Address, "--token", fixture.Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("[ok] server reachable:", result.Stdout);
        Assert.Contains("[ok] token valid: the server accepts the token: management token", result.Stdout);
        Assert.Contains("[ok] active root: valid until", result.Stdout);
        Assert.Contains("[ok] trust bundle: 1 trusted root", result.Stdout);
        Assert.DoesNotContain("[FAIL]", result.Stdout);
        Assert.DoesNotContain("\u001b", result.Stdout);
        Assert.Contains("Status check results are all green.", result.Stdout);
    }

    [Fact]
    public async Task Check_WrongToken_RedWithTheFixAndExitsSix()
    {
        var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", fixture.Server.Address, "--token", "not-the-token");

        Assert.True(result.ExitCode == 6, result.ToString());
        var lines = result.Stdout.Split('\n');
        var red = Array.FindIndex(lines, l => l.StartsWith("[FAIL] token valid: the server refused the token", StringComparison.Ordinal));
        Assert.True(red >= 0, result.ToString());
        Assert.StartsWith("    fix: set WEFT_ACL_TOKEN or --token to a valid token", lines[red + 1]);
        Assert.Contains("[skip] certificate authority: not checked: needs a token the server accepts", result.Stdout);
        Assert.Contains("1 check failed", result.Stdout);
    }

    [Fact]
    public async Task Check_ServerUnreachable_RedWithTheFixAndExitsSix()
    {
        var port = FreePort();
        var result = await CliInvocation.RunProcessAsync(null, "check", "--http-addr", $"127.0.0.1:{port}");

        Assert.True(result.ExitCode == 6, result.ToString());
        Assert.Contains($"[FAIL] server reachable: http://127.0.0.1:{port}: Connection refused", result.Stdout);
        Assert.Contains("    fix: start the server (weft server --data-dir DIR) or point WEFT_HTTP_ADDR / --http-addr at it", result.Stdout);
    }

    [Fact]
    public async Task Check_Json_ReportsEveryLineWithStatusAndFix()
    {
        var result = await CliInvocation.RunAsync("check", "--json", "--http-addr", fixture.Server.Address, "--token", "not-the-token");

        Assert.True(result.ExitCode == 6, result.ToString());
        using var report = JsonDocument.Parse(result.Stdout);
        Assert.False(report.RootElement.GetProperty("Ok").GetBoolean());
        var token = report.RootElement.GetProperty("Checks").EnumerateArray().Single(c => c.GetProperty("Category").GetString() == "acl");
        Assert.Equal("fail", token.GetProperty("Status").GetString());
        Assert.Contains("WEFT_ACL_TOKEN", token.GetProperty("Fix").GetString());
    }

    [Fact]
    public async Task Check_OpenServer_SaysAclsAreDisabled()
    {
        await using var open = await WeftServerProcess.StartAsync(open: true);

        var result = await CliInvocation.RunAsync("check", "--http-addr", open.Address);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("[ok] token valid: ACLs are disabled: the server runs with --dev-open and checks no token", result.Stdout);
    }

    [Fact]
    public async Task Check_BadFlag_ExitsTwoWithAMessage()
    {
        var result = await CliInvocation.RunAsync("check", "--no-such-flag");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--no-such-flag", result.Stderr);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
