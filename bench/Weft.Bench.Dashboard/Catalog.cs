using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Weft.Bench.Dashboard;

/// <summary>
/// Registers <c>services × instances</c> through Consul's agent API as any Consul client would, each instance with two
/// TTL checks: an app check that is passing, and a dependency check whose status is mixed across the mesh (about 80%
/// passing, 12% warning, 8% critical, by a fixed pattern) and carries an output line.
/// </summary>
internal static class Catalog
{
    public static string ServiceName(int s) => $"svc-{s:D3}";

    public static async Task<(int Registered, double Seconds)> RegisterAsync(HttpClient http, Uri api, int services, int instances, int workers, CancellationToken ct)
    {
        var total = services * instances;
        var next = -1;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        async Task WorkerAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total && !ct.IsCancellationRequested)
            {
                var (s, n) = (i / instances, i % instances);
                var status = ((s * 7 + n * 3) % 25) switch { < 20 => "passing", < 23 => "warning", _ => "critical" };
                var id = $"{ServiceName(s)}-{n}";
                var body = new JsonObject
                {
                    ["ID"] = id,
                    ["Name"] = ServiceName(s),
                    ["Address"] = "127.0.0.1",
                    ["Port"] = 20_000 + i,
                    ["Tags"] = new JsonArray("bench", $"zone-{n % 3}"),
                    ["Meta"] = new JsonObject { ["version"] = "1.4.2" },
                    ["Checks"] = new JsonArray(
                        new JsonObject { ["CheckID"] = $"app:{id}", ["Name"] = "app", ["TTL"] = "1h", ["Status"] = "passing", ["Notes"] = "the app answers" },
                        new JsonObject
                        {
                            ["CheckID"] = $"deps:{id}", ["Name"] = "dependencies", ["TTL"] = "1h", ["Status"] = status,
                            ["Notes"] = status == "passing" ? "all dependencies reachable" : $"{status}: database replica lag {(s % 9) + 1}s",
                        }),
                };
                using var response = await http.PutAsJsonAsync(new Uri(api, "/v1/agent/service/register"), body, ct);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"register {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
            }
        }

        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(WorkerAsync, ct)));
        return (total, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>Instances and checks by status as the health API counts them, to check the registration landed whole.</summary>
    public static async Task<(int Critical, int Warning)> CountAsync(HttpClient http, Uri api, CancellationToken ct)
    {
        var critical = await http.GetFromJsonAsync<JsonArray>(new Uri(api, "/v1/health/state/critical"), ct);
        var warning = await http.GetFromJsonAsync<JsonArray>(new Uri(api, "/v1/health/state/warning"), ct);
        return (critical?.Count ?? 0, warning?.Count ?? 0);
    }

    public static string F(double v, int d = 1) => double.IsFinite(v) ? v.ToString($"F{d}", CultureInfo.InvariantCulture) : "-";
}
