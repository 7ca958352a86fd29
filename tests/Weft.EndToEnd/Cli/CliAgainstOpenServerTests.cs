using System.Text.Json;

namespace Weft.EndToEnd.Cli;

/// <summary>The operator commands against a real, open weft server.</summary>
public sealed class CliAgainstOpenServerTests(OpenServerFixture fixture) : IClassFixture<OpenServerFixture>, IDisposable
{
    private readonly RegistrationFiles _files = new();

    private string Addr => fixture.Server.Address;

    [Fact]
    public async Task Services_AfterRegister_ListsTheServiceWithItsInstancesAndTags()
    {
        await RegisterAsync("billing", "billing-1", 9001);
        await RegisterAsync("billing", "billing-2", 9002, secondStatus: "critical");

        var result = await CliInvocation.RunAsync("services", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        var row = Assert.Single(Lines(result.Stdout), l => l.StartsWith("billing ", StringComparison.Ordinal));
        // SERVICE INSTANCES PASSING WARNING CRITICAL TAGS
        Assert.Equal(["billing", "2", "1", "0", "1", "primary,v1"], Columns(row, tagsSorted: true));
        Assert.Contains("SERVICE", result.Stdout);
    }

    [Fact]
    public async Task Instances_ShowAddressNodeHealthAndEachCheckWithItsStatus()
    {
        await RegisterAsync("ledger", "ledger-1", 9011, firstStatus: "passing", secondStatus: "warning");

        var result = await CliInvocation.RunAsync("instances", "ledger", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        var instance = Assert.Single(Lines(result.Stdout), l => l.StartsWith("ledger-1 ", StringComparison.Ordinal));
        Assert.Contains("10.0.0.12:9011", instance);
        Assert.Contains("warning", instance);
        Assert.Equal(["ledger-1-alive", "passing"], Columns(Assert.Single(Lines(result.Stdout), l => l.Contains("ledger-1-alive")))[..2]);
        Assert.Equal(["ledger-1-ready", "warning"], Columns(Assert.Single(Lines(result.Stdout), l => l.Contains("ledger-1-ready")))[..2]);
    }

    [Fact]
    public async Task Instances_UnknownService_SaysNoneAreRegisteredAndSucceeds()
    {
        var result = await CliInvocation.RunAsync("instances", "no-such-service", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("No instances of service \"no-such-service\" are registered.", result.Stdout);
    }

    [Fact]
    public async Task Deregister_RemovesTheInstance()
    {
        await RegisterAsync("audit", "audit-1", 9021);
        await RegisterAsync("audit", "audit-2", 9022);

        var result = await CliInvocation.RunAsync("deregister", "audit-1", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("Deregistered service \"audit-1\"", result.Stdout.Trim());
        var instances = await CliInvocation.RunAsync("instances", "audit", "--http-addr", Addr);
        Assert.DoesNotContain("audit-1 ", instances.Stdout);
        Assert.Contains("audit-2 ", instances.Stdout);
    }

    [Fact]
    public async Task Deregister_UnknownId_ExitsOneWithTheServersMessage()
    {
        var result = await CliInvocation.RunAsync("deregister", "ghost-1", "--http-addr", Addr);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("weft: the server answered 404 Not Found: ", result.Stderr);
        Assert.Contains("ghost-1", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Register_MalformedFile_ExitsTwoNamingTheFileAndTheJsonError()
    {
        var path = _files.Write("broken.json", "{ \"Name\": \"web\",\n  \"Port\": 80,, }");

        var result = await CliInvocation.RunAsync("register", path, "--http-addr", Addr);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"weft: {path} is not valid JSON: ", result.Stderr);
        Assert.Contains("(line 2,", result.Stderr);
    }

    [Fact]
    public async Task Register_MissingFile_ExitsTwoNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), "weft-no-such-file.json");

        var result = await CliInvocation.RunAsync("register", path, "--http-addr", Addr);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"weft: cannot read {path}: ", result.Stderr);
    }

    [Fact]
    public async Task Register_FromStdin_RegistersTheServiceUnderItsNameWhenThereIsNoId()
    {
        var result = await CliInvocation.RunProcessAsync(
            """{ "Name": "stdin-svc", "Port": 7000, "Address": "10.9.9.9" }""", "register", "-", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("Registered service \"stdin-svc\"", result.Stdout.Trim());
        var instances = await CliInvocation.RunAsync("instances", "stdin-svc", "--http-addr", Addr);
        Assert.Contains("10.9.9.9:7000", instances.Stdout);
    }

    [Fact]
    public async Task Services_WithStdoutRedirected_PrintsAPlainTableWithoutAnsiCodes()
    {
        await RegisterAsync("plain", "plain-1", 9031, secondStatus: "critical");

        var result = await CliInvocation.RunProcessAsync(null, "services", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain('\u001b', result.Stdout);
        Assert.Contains(Lines(result.Stdout), l => l.StartsWith("plain ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ServicesJson_ParsesAndCarriesTheCounts()
    {
        await RegisterAsync("jsonsvc", "jsonsvc-1", 9041, firstStatus: "warning");

        var result = await CliInvocation.RunAsync("services", "--json", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var service = Assert.Single(json.RootElement.EnumerateArray(), s => s.GetProperty("Name").GetString() == "jsonsvc");
        Assert.Equal(1, service.GetProperty("Instances").GetInt32());
        Assert.Equal(1, service.GetProperty("Warning").GetInt32());
        Assert.Equal(0, service.GetProperty("Passing").GetInt32());
    }

    [Fact]
    public async Task InstancesJson_ParsesAndCarriesChecksWithFullOutput()
    {
        await RegisterAsync("jsoninst", "jsoninst-1", 9051, secondStatus: "critical");

        var result = await CliInvocation.RunAsync("instances", "jsoninst", "--json", "--http-addr", Addr);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var instance = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("jsoninst-1", instance.GetProperty("ID").GetString());
        Assert.Equal(9051, instance.GetProperty("Port").GetInt32());
        Assert.Equal("critical", instance.GetProperty("Health").GetString());
        var checks = instance.GetProperty("Checks").EnumerateArray().ToDictionary(
            c => c.GetProperty("CheckID").GetString()!, c => c.GetProperty("Status").GetString());
        Assert.Equal("passing", checks["jsoninst-1-alive"]);
        Assert.Equal("critical", checks["jsoninst-1-ready"]);
    }

    public void Dispose() => _files.Dispose();

    private async Task RegisterAsync(string service, string id, int port, string firstStatus = "passing", string secondStatus = "passing")
    {
        var path = _files.Write($"{id}.json", RegistrationFiles.Instance(service, id, port, firstStatus, secondStatus));
        var result = await CliInvocation.RunAsync("register", path, "--http-addr", Addr);
        Assert.True(result.ExitCode == 0, $"{result}\n--- server log\n{fixture.Server.Log}");
        Assert.Equal($"Registered service \"{id}\"", result.Stdout.Trim());
    }

    private static string[] Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string[] Columns(string line, bool tagsSorted = false)
    {
        var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (tagsSorted && columns.Length > 0)
            columns[^1] = string.Join(",", columns[^1].Split(',').Order(StringComparer.Ordinal));
        return columns;
    }
}
