namespace Weft.EndToEnd.Cli;

/// <summary><c>weft intention</c> against a real <c>weft server</c> (default deny, as it starts without --default-allow).</summary>
public sealed class IntentionCommandTests(OpenServerFixture fixture) : IClassFixture<OpenServerFixture>
{
    private string Addr => fixture.Server.Address;

    [Fact]
    public async Task AllowDenyDelete_ChangeWhatCheckSays_WithConsulsExitCodes()
    {
        var unset = await CliInvocation.RunProcessAsync(null, "intention", "check", "cli-orders", "cli-payments", "--http-addr", Addr);
        Assert.True(unset.ExitCode == 2, unset.ToString());
        Assert.Equal("Denied", unset.Stdout.Trim());

        var allow = await CliInvocation.RunProcessAsync(null, "intention", "allow", "cli-orders", "cli-payments", "--http-addr", Addr);
        Assert.True(allow.ExitCode == 0, allow.ToString());
        Assert.Equal("Allowed: cli-orders => cli-payments", allow.Stdout.Trim());
        var allowed = await CliInvocation.RunProcessAsync(null, "intention", "check", "cli-orders", "cli-payments", "--http-addr", Addr);
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Equal("Allowed", allowed.Stdout.Trim());

        var deny = await CliInvocation.RunAsync("intention", "deny", "cli-orders", "cli-payments", "--http-addr", Addr);
        Assert.True(deny.ExitCode == 0, deny.ToString());
        var denied = await CliInvocation.RunAsync("intention", "check", "cli-orders", "cli-payments", "--http-addr", Addr);
        Assert.True(denied.ExitCode == 2, denied.ToString());

        var list = await CliInvocation.RunAsync("intention", "list", "--http-addr", Addr);
        Assert.True(list.ExitCode == 0, list.ToString());
        var row = Assert.Single(list.Stdout.Split('\n'), l => l.Contains("cli-orders", StringComparison.Ordinal));
        Assert.Contains("cli-payments", row);
        Assert.Contains("deny", row);
        Assert.Contains("9", row);

        var delete = await CliInvocation.RunAsync("intention", "delete", "cli-orders", "cli-payments", "--http-addr", Addr);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        var list2 = await CliInvocation.RunAsync("intention", "list", "--json", "--http-addr", Addr);
        Assert.DoesNotContain("cli-orders", list2.Stdout);
    }

    [Fact]
    public async Task Allow_WithABadName_ExitsOne_WithTheServersMessage()
    {
        var result = await CliInvocation.RunAsync("intention", "allow", "a/b", "cli-x", "--http-addr", Addr);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("400", result.Stderr);
        Assert.Contains("without '/'", result.Stderr);
    }

    [Fact]
    public async Task Check_AgainstADefaultAllowServer_IsAllowed()
    {
        await using var server = await WeftServerProcess.StartAsync(open: true, dataDir: null, "--default-allow");
        var check = await CliInvocation.RunAsync("intention", "check", "a", "b", "--http-addr", server.Address);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("intentions:  default ALLOW", server.Log);
    }
}
