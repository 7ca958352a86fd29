using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Weft.EndToEnd.Cli;

namespace Weft.EndToEnd.Server;

/// <summary><c>weft server</c> as a real process: start-up output, durability across kill -9, SIGTERM, refusals.</summary>
public sealed class ServerProcessTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("weft-proc-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private static HttpClient Client(WeftServerProcess server, string? token) =>
        token is null
            ? new HttpClient { BaseAddress = new Uri($"http://{server.Address}") }
            : new HttpClient { BaseAddress = new Uri($"http://{server.Address}"), DefaultRequestHeaders = { { "X-Consul-Token", token } } };

    [Fact]
    public async Task Start_SaysWhereItListensAndWhereItsDataAndTokenAre()
    {
        await using var server = await WeftServerProcess.StartAsync(open: false, dataDir: _dataDir);
        var tokenFile = Path.Combine(_dataDir, "acl-token");
        await WaitUntilAsync(() => server.Log.Contains("ACL token"), "the start-up lines are printed");

        Assert.Contains($"http://{server.Address}", server.Log);
        Assert.Contains(Path.Combine(_dataDir, "weft.db"), server.Log);
        Assert.Contains(tokenFile, server.Log);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
    }

    [Fact]
    public async Task KillDashNine_DuringWrites_LosesNoAcknowledgedRegistration_AndTheIndexKeepsRising()
    {
        var acknowledged = new List<string>();
        ulong indexBeforeKill;
        string token;
        await using (var server = await WeftServerProcess.StartAsync(open: false, dataDir: _dataDir))
        {
            token = (await File.ReadAllTextAsync(Path.Combine(_dataDir, "acl-token"))).Trim();
            using var http = Client(server, token);

            // Statuses written before the storm must survive too.
            using (var r = await http.PutAsync("/v1/agent/service/register", Body("""{"ID":"steady","Name":"steady","Check":{"TTL":"1h"}}""")))
                r.EnsureSuccessStatusCode();
            using (var r = await http.PutAsync("/v1/agent/check/warn/service:steady?note=degraded", null))
                r.EnsureSuccessStatusCode();

            // Sixteen writers registering as fast as they can; the process is killed while they run.
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
            {
                for (var i = 0; i < 2000 && !stop.IsCancellationRequested; i++)
                {
                    var id = $"w{w}-{i}";
                    try
                    {
                        using var response = await http.PutAsync("/v1/agent/service/register", Body($$"""{"ID":"{{id}}","Name":"storm","Port":{{1000 + i}}}"""));
                        if (response.IsSuccessStatusCode)
                            lock (acknowledged) acknowledged.Add(id);
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }
                }
            })).ToList();

            await WaitUntilAsync(() => { lock (acknowledged) return acknowledged.Count >= 300; }, "300 registrations are acknowledged");
            indexBeforeKill = await IndexAsync(http, "/v1/catalog/service/storm");
            await server.KillHardAsync();
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        await using (var restarted = await WeftServerProcess.StartAsync(open: false, dataDir: _dataDir))
        {
            using var http = Client(restarted, token);
            var instances = await http.GetFromJsonAsync<JsonElement>("/v1/catalog/service/storm");
            var present = instances.EnumerateArray().Select(e => e.GetProperty("ServiceID").GetString()!).ToHashSet();
            string[] lost;
            lock (acknowledged) lost = acknowledged.Where(id => !present.Contains(id)).ToArray();
            Assert.True(lost.Length == 0, $"{lost.Length} acknowledged registrations lost, e.g. {string.Join(", ", lost.Take(5))}");

            var checks = await http.GetFromJsonAsync<JsonElement>("/v1/agent/checks");
            Assert.Equal("warning", checks.GetProperty("service:steady").GetProperty("Status").GetString());
            Assert.Equal("degraded", checks.GetProperty("service:steady").GetProperty("Output").GetString());

            var indexAfterRestart = await IndexAsync(http, "/v1/catalog/service/storm");
            Assert.True(indexAfterRestart >= indexBeforeKill);
            using (var r = await http.PutAsync("/v1/agent/service/register", Body("""{"ID":"after","Name":"storm"}""")))
                r.EnsureSuccessStatusCode();
            Assert.True(await IndexAsync(http, "/v1/catalog/service/storm") > indexAfterRestart);
        }
    }

    [Fact]
    public async Task Sigterm_StopsCleanlyWithExitCodeZero_AndKeepsTheData()
    {
        await using (var server = await WeftServerProcess.StartAsync(open: true, dataDir: _dataDir))
        {
            using var http = Client(server, null);
            using (var r = await http.PutAsync("/v1/agent/service/register", Body("""{"ID":"kept","Name":"kept"}""")))
                r.EnsureSuccessStatusCode();
            Assert.Equal(0, await server.TerminateAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("stopped", server.Log);
        }

        await using (var restarted = await WeftServerProcess.StartAsync(open: true, dataDir: _dataDir))
        {
            using var http = Client(restarted, null);
            var services = await http.GetFromJsonAsync<JsonElement>("/v1/agent/services");
            Assert.True(services.TryGetProperty("kept", out _));
        }
    }

    [Fact]
    public async Task CorruptStore_ExitsNonZeroWithAClearMessage_AndLeavesTheFileAlone()
    {
        var db = Path.Combine(_dataDir, "weft.db");
        await File.WriteAllTextAsync(db, "this is not a database, it is a shopping list\n");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => WeftServerProcess.StartAsync(open: true, dataDir: _dataDir));
        Assert.Contains("exited with 1", error.Message);
        Assert.Contains("cannot open the store", error.Message);
        Assert.Contains("not a Weft store", error.Message);
        Assert.Equal("this is not a database, it is a shopping list\n", await File.ReadAllTextAsync(db));
    }

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<ulong> IndexAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return ulong.Parse(response.Headers.GetValues("X-Consul-Index").Single());
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }
}
