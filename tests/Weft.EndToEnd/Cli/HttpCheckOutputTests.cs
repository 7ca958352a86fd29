using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Weft.EndToEnd.Cli;

/// <summary>
/// A check the server really runs (HTTP, against a small local app) and what the operator sees
/// of its multi-line output: one line in the table, all of it in <c>--json</c>.
/// </summary>
public sealed class HttpCheckOutputTests(OpenServerFixture fixture) : IClassFixture<OpenServerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan CheckDeadline = TimeSpan.FromSeconds(30);

    private readonly RegistrationFiles _files = new();
    private WebApplication? _app;
    private string _appUrl = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapGet("/health", () => Results.Text("ok\nline2\n"));
        await _app.StartAsync();
        _appUrl = _app.Urls.Single();
    }

    [Fact]
    public async Task Instances_MultiLineCheckOutput_TableShowsTheFirstLineAndJsonAllOfIt()
    {
        var path = _files.Write("http.json", $$"""
            { "ID": "httpcheck-1", "Name": "httpcheck", "Port": 1,
              "Check": { "CheckID": "httpcheck-1-http", "Name": "http", "HTTP": "{{_appUrl}}/health", "Interval": "1s" } }
            """);
        var registered = await CliInvocation.RunAsync("register", path, "--http-addr", fixture.Server.Address);
        Assert.True(registered.ExitCode == 0, registered.ToString());

        var json = await WaitForCheckStatusAsync("httpcheck", "httpcheck-1-http", "passing");
        Assert.Contains("line2", json);

        var table = await CliInvocation.RunAsync("instances", "httpcheck", "--http-addr", fixture.Server.Address);
        Assert.True(table.ExitCode == 0, table.ToString());
        var row = Assert.Single(table.Stdout.Split('\n'), l => l.Contains("httpcheck-1-http"));
        Assert.Contains("passing", row);
        Assert.Contains("200 OK", row);
        Assert.DoesNotContain("line2", table.Stdout);
    }

    public async Task DisposeAsync()
    {
        _files.Dispose();
        if (_app is not null)
            await _app.DisposeAsync();
    }

    /// <summary>Polls <c>weft instances --json</c> until the server's check runner has reported.</summary>
    private async Task<string> WaitForCheckStatusAsync(string service, string checkId, string status)
    {
        var deadline = Stopwatch.StartNew();
        var last = "";
        while (deadline.Elapsed < CheckDeadline)
        {
            var result = await CliInvocation.RunAsync("instances", service, "--json", "--http-addr", fixture.Server.Address);
            Assert.True(result.ExitCode == 0, result.ToString());
            last = result.Stdout;
            using var doc = JsonDocument.Parse(last);
            var check = doc.RootElement.EnumerateArray()
                .SelectMany(i => i.GetProperty("Checks").EnumerateArray())
                .FirstOrDefault(c => c.GetProperty("CheckID").GetString() == checkId);
            if (check.ValueKind == JsonValueKind.Object && check.GetProperty("Status").GetString() == status)
                return check.GetProperty("Output").GetString() ?? "";
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
        throw new TimeoutException($"check {checkId} did not become {status} within {CheckDeadline}; last answer:\n{last}");
    }
}
