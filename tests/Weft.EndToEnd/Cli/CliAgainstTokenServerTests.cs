namespace Weft.EndToEnd.Cli;

/// <summary>The operator commands against a real weft server in its default, token-protected mode.</summary>
public sealed class CliAgainstTokenServerTests(TokenServerFixture fixture) : IClassFixture<TokenServerFixture>
{
    [Fact]
    public async Task Services_WrongToken_ExitsFourAndSaysHowToPassOne()
    {
        var result = await CliInvocation.RunAsync("services", "--http-addr", fixture.Server.Address, "--token", "not-the-token");

        Assert.True(result.ExitCode == 4, result.ToString());
        Assert.StartsWith("weft: the server refused the token (", result.Stderr);
        Assert.Contains("). Set WEFT_ACL_TOKEN or pass --token.", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Deregister_WrongToken_ExitsFour()
    {
        var result = await CliInvocation.RunAsync("deregister", "anything", "--http-addr", fixture.Server.Address, "--token", "not-the-token");

        Assert.True(result.ExitCode == 4, result.ToString());
    }

    [Fact]
    public async Task Services_ServersToken_Succeeds()
    {
        var result = await CliInvocation.RunAsync("services", "--http-addr", fixture.Server.Address, "--token", fixture.Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task Services_TokenAndAddressFromEnvironment_Succeeds()
    {
        var result = await CliInvocation.RunProcessAsync(null,
            new Dictionary<string, string> { ["WEFT_HTTP_ADDR"] = fixture.Server.Address, ["WEFT_ACL_TOKEN"] = fixture.Token },
            "services");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("SERVICE", result.Stdout);
    }
}
