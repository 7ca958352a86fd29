using System.Text.Json;

namespace Weft.EndToEnd.Cli;

/// <summary><c>weft ca roots|rotate</c> and the CA flags of <c>weft server</c>, as real processes.</summary>
public sealed class CaCommandTests
{
    private static readonly TimeSpan ProcessDeadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task CaRotate_MakesANewActiveRoot_AndCaRootsListsBoth()
    {
        await using var server = await WeftServerProcess.StartAsync(open: false, null, "--trust-domain", "e2e.local", "--leaf-ttl", "1h");
        var token = (await File.ReadAllTextAsync(Path.Combine(server.DataDir, "acl-token"))).Trim();
        string[] api = ["--http-addr", server.Address, "--token", token];

        var before = await Weft([.. new[] { "ca", "roots", "--json" }, .. api]);
        Assert.True(before.ExitCode == 0, before.ToString());
        var oldId = JsonDocument.Parse(before.Stdout).RootElement.GetProperty("ActiveRootID").GetString()!;

        var table = await Weft([.. new[] { "ca", "roots" }, .. api]);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("trust domain e2e.local", table.Stdout);
        Assert.Contains(oldId, table.Stdout);
        Assert.Equal("", table.Stderr);

        var rotated = await Weft([.. new[] { "ca", "rotate" }, .. api]);
        Assert.True(rotated.ExitCode == 0, rotated.ToString() + server.Log);
        Assert.StartsWith("rotated: the active root is now ", rotated.Stdout);
        Assert.Contains($"{oldId} stays trusted", rotated.Stdout);

        var after = await Weft([.. new[] { "ca", "roots", "--json" }, .. api]);
        var roots = JsonDocument.Parse(after.Stdout).RootElement;
        var newId = roots.GetProperty("ActiveRootID").GetString();
        Assert.NotEqual(oldId, newId);
        var listed = roots.GetProperty("Roots").EnumerateArray().ToDictionary(r => r.GetProperty("ID").GetString()!, r => r.GetProperty("Active").GetBoolean());
        Assert.Equal(new Dictionary<string, bool> { [oldId] = false, [newId!] = true }, listed);
        Assert.Contains(newId!, rotated.Stdout);
    }

    [Fact]
    public async Task CaRotate_WithAWrongToken_ExitsFour_AndRotatesNothing()
    {
        await using var server = await WeftServerProcess.StartAsync(open: false);
        var token = (await File.ReadAllTextAsync(Path.Combine(server.DataDir, "acl-token"))).Trim();
        var before = await Weft("ca", "roots", "--json", "--http-addr", server.Address, "--token", token);

        var refused = await Weft("ca", "rotate", "--http-addr", server.Address, "--token", "not-the-token");
        Assert.True(refused.ExitCode == 4, refused.ToString());
        var after = await Weft("ca", "roots", "--json", "--http-addr", server.Address, "--token", token);
        Assert.Equal(before.Stdout, after.Stdout);
    }

    [Theory]
    [InlineData("missing", "certificate authority: cannot read --ca-cert")]
    [InlineData("ttl", "--leaf-ttl: 5s is shorter than the minimum 10s")]
    [InlineData("domain", "--trust-domain: \"not a domain\" is not a trust domain")]
    [InlineData("half", "--ca-cert and --ca-key go together")]
    public async Task Server_WithUnusableCaSettings_ExitsTwoAndSaysWhy(string what, string message)
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-e2e-ca-").FullName;
        try
        {
            var missing = Path.Combine(dataDir, "nope.pem");
            string[] extra = what switch
            {
                "missing" => ["--ca-cert", missing, "--ca-key", missing],
                "ttl" => ["--leaf-ttl", "5s"],
                "domain" => ["--trust-domain", "not a domain"],
                _ => ["--ca-cert", missing],
            };
            var result = await Weft([.. new[] { "server", "--dev-open", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--data-dir", dataDir }, .. extra]);
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains(message, result.Stderr);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static Task<CliResult> Weft(params string[] args) => CliInvocation.RunProcessAsync(null, args).WaitAsync(ProcessDeadline);
}
