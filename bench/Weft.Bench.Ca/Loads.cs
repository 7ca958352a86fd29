using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Weft.Bench.Ca;

/// <summary>The requests the bench times: one CA signing, its HTTP floor, and the crypto floor; and bounded loads of them.</summary>
internal sealed class Loads(HttpClient http, Uri api, List<string> csrs, Csrs.LocalCa local)
{
    private int _next;

    private string NextCsr() => csrs[(int)((uint)Interlocked.Increment(ref _next) % csrs.Count)];

    /// <summary><c>PUT /v1/connect/ca/sign</c> with the next pre-made CSR; throws unless 200 with a CertPEM.</summary>
    public async Task SignAsync()
    {
        using var response = await http.PutAsJsonAsync(new Uri(api, "/v1/connect/ca/sign"), new JsonObject { ["CSR"] = NextCsr() });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode || !body.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
            throw new InvalidOperationException($"sign: {(int)response.StatusCode} {body[..Math.Min(200, body.Length)]}");
    }

    /// <summary><c>GET /v1/status/leader</c>: the same server's HTTP round trip with no work behind it.</summary>
    public async Task LeaderAsync()
    {
        using var response = await http.GetAsync(new Uri(api, "/v1/status/leader"));
        response.EnsureSuccessStatusCode();
    }

    public Task LocalSignAsync()
    {
        local.Sign(NextCsr());
        return Task.CompletedTask;
    }

    /// <summary>One after another, <paramref name="count"/> times: each latency in ms.</summary>
    public static async Task<List<double>> SequentialAsync(Func<Task> request, int count)
    {
        var latencies = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await request();
            latencies.Add(Stats.Ms(start, Stopwatch.GetTimestamp()));
        }

        return latencies;
    }

    /// <summary><paramref name="workers"/> closed loops sharing <paramref name="count"/> requests: each latency, and requests/s.</summary>
    public static async Task<(List<double> Latencies, double PerSecond)> ConcurrentAsync(Func<Task> request, int count, int workers)
    {
        var latencies = new double[count];
        var next = -1;
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var t = Stopwatch.GetTimestamp();
                await request();
                latencies[i] = Stats.Ms(t, Stopwatch.GetTimestamp());
            }
        })));
        return ([.. latencies], count / (Stats.Ms(start, Stopwatch.GetTimestamp()) / 1000));
    }

    /// <summary>
    /// Open loop: request <c>i</c> of <paramref name="count"/> is sent at start + i × window / count whatever happened
    /// before (renewals do not wait for each other), at most <paramref name="maxInFlight"/> at once (a sidecar has one
    /// renewal in flight; this caps the bench's own sockets). Latency is from the scheduled time, so queueing counts.
    /// </summary>
    public static async Task<(List<double> Latencies, int Failed)> OpenLoopAsync(Func<Task> request, int count, TimeSpan window, int maxInFlight)
    {
        var latencies = new double[count];
        var failed = 0;
        using var gate = new SemaphoreSlim(maxInFlight);
        var start = Stopwatch.GetTimestamp();
        var tasks = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var due = start + (long)(window.TotalSeconds * Stopwatch.Frequency * i / count);
            var wait = Stats.Ms(Stopwatch.GetTimestamp(), due);
            if (wait > 1) await Task.Delay(TimeSpan.FromMilliseconds(wait));
            await gate.WaitAsync();
            var index = i;
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    await request();
                    latencies[index] = Stats.Ms(due, Stopwatch.GetTimestamp());
                }
                catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failed);
                    latencies[index] = double.NaN;
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        await Task.WhenAll(tasks);
        return ([.. latencies.Where(double.IsFinite)], failed);
    }
}
