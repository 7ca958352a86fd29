using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Weft.Bench.Registry;

/// <summary>The few Consul-API calls the bench makes, and a bounded concurrent registration load.</summary>
internal static class WeftApi
{
    public sealed record LoadResult(int Acked, int Failed, double Seconds, List<double> LatenciesMs)
    {
        public double PerSecond => Acked / Seconds;
    }

    public static string Registration(string id, string name, int port, string? checkUrl = null) =>
        checkUrl is null
            ? $$"""{"ID":"{{id}}","Name":"{{name}}","Address":"127.0.0.1","Port":{{port}}}"""
            : $$$"""{"ID":"{{{id}}}","Name":"{{{name}}}","Address":"127.0.0.1","Port":{{{port}}},"Check":{"HTTP":"{{{checkUrl}}}","Interval":"10s","Timeout":"2s"}}""";

    public static async Task RegisterAsync(HttpClient client, Uri server, string body)
    {
        using var response = await client.SendAsync(Put(server, body));
        response.EnsureSuccessStatusCode();
    }

    public static HttpRequestMessage Put(Uri server, string body) =>
        new(HttpMethod.Put, new Uri(server, "/v1/agent/service/register"))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };

    /// <summary>The catalog's raft-style index: one step per committed batch, so it counts commits.</summary>
    public static async Task<ulong> IndexAsync(HttpClient client, Uri server, string path = "/v1/agent/self")
    {
        using var response = await client.GetAsync(new Uri(server, path));
        response.EnsureSuccessStatusCode();
        return ulong.Parse(response.Headers.GetValues("X-Consul-Index").First(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// <paramref name="clients"/> loops, each sending its next registration when the last one was acknowledged,
    /// until <paramref name="count"/> are sent or <paramref name="cap"/> passes.
    /// </summary>
    public static async Task<LoadResult> RegisterManyAsync(Uri server, int clients, int count, TimeSpan cap, Func<int, string> body)
    {
        using var client = BenchContext.Client(clients, TimeSpan.FromSeconds(30));
        var next = -1;
        var failed = 0;
        var latencies = new List<double>[clients];
        var started = Stopwatch.GetTimestamp();
        var until = started + (long)(cap.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var mine = latencies[c] = new List<double>(count / clients + 1);
            int i;
            while ((i = Interlocked.Increment(ref next)) < count && Stopwatch.GetTimestamp() < until)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.SendAsync(Put(server, body(i)));
                    if (response.IsSuccessStatusCode) mine.Add(Stats.Ms(sent, Stopwatch.GetTimestamp()));
                    else Interlocked.Increment(ref failed);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(l => l).ToList();
        return new LoadResult(all.Count, failed, seconds, all);
    }
}
