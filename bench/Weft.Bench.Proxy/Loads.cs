using System.Globalization;
using System.Text.RegularExpressions;

namespace Weft.Bench.Proxy;

/// <summary>The closed-loop loads: wrk for HTTP/1.1, h2load for h2c, each bounded in time, parsed into a <see cref="LoadResult"/>.</summary>
internal static partial class Loads
{
    public static async Task<LoadResult> WrkAsync(BenchContext ctx, Target target, Backend backend, int seconds)
    {
        List<string> args = ["-t1", $"-c{ctx.WrkConnections}", $"-d{seconds}s", "--latency"];
        if (target.Host is { } host) args.AddRange(["-H", $"Host: {host}"]);
        args.Add(target.Http1!.ToString());
        await using var sampler = new Sampler(target.ProxyPids(), backend.Pids());
        var (exit, output) = await Tool.RunAsync("wrk", args, ctx.WorkDir, TimeSpan.FromSeconds(seconds + 30));
        var sample = await sampler.StopAsync();
        if (exit != 0) throw new InvalidOperationException($"wrk against {target.Name} exited {exit}: {output}");

        var requests = long.Parse(WrkRequests().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = 0L;
        if (WrkNon2xx().Match(output) is { Success: true } non2xx) errors += long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture);
        if (WrkSocketErrors().Match(output) is { Success: true } socket)
            errors += Enumerable.Range(1, 4).Sum(i => long.Parse(socket.Groups[i].Value, CultureInfo.InvariantCulture));
        return new LoadResult(target.Name, requests, errors,
            double.Parse(WrkRps().Match(output).Groups[1].Value, CultureInfo.InvariantCulture),
            WrkPercentile(output, "50"), WrkPercentile(output, "99"), sample);
    }

    /// <summary>
    /// h2load over h2c (prior knowledge). It prints no percentiles, so it writes one line per request
    /// (start µs, status, duration µs) to a log file and the percentiles come from that.
    /// </summary>
    public static async Task<LoadResult> H2loadAsync(BenchContext ctx, Target target, Backend backend, int seconds)
    {
        var log = Path.Combine(ctx.WorkDir, "h2load-requests.tsv");
        File.Delete(log);
        List<string> args = ["-t1", $"-c{ctx.H2Connections}", $"-m{ctx.H2Streams}", $"-D{seconds}", $"--log-file={log}"];
        if (target.Host is { } host) args.AddRange(["-H", $":authority: {host}"]);
        args.Add(target.H2c!.ToString());
        await using var sampler = new Sampler(target.ProxyPids(), backend.Pids());
        var (exit, output) = await Tool.RunAsync("h2load", args, ctx.WorkDir, TimeSpan.FromSeconds(seconds + 30));
        var sample = await sampler.StopAsync();
        if (exit != 0) throw new InvalidOperationException($"h2load against {target.Name} exited {exit}: {output}");

        var counts = H2Requests().Match(output);
        if (!counts.Success) throw new InvalidOperationException($"h2load against {target.Name}: no request counts in {output}");
        var done = long.Parse(counts.Groups[1].Value, CultureInfo.InvariantCulture);
        var succeeded = long.Parse(counts.Groups[2].Value, CultureInfo.InvariantCulture);
        var non2xx = H2Status().Match(output) is { Success: true } s2xx ? done - long.Parse(s2xx.Groups[1].Value, CultureInfo.InvariantCulture) : done;
        var durations = new List<double>();
        foreach (var line in File.ReadLines(log))
        {
            var fields = line.Split('\t');
            if (fields.Length >= 3 && double.TryParse(fields[2], CultureInfo.InvariantCulture, out var us)) durations.Add(us / 1000);
        }

        File.Delete(log);
        return new LoadResult(target.Name, succeeded, done - succeeded + Math.Max(0, non2xx),
            double.Parse(H2Rps().Match(output).Groups[1].Value, CultureInfo.InvariantCulture),
            Stats.Percentile(durations, 50), Stats.Percentile(durations, 99), sample);
    }

    private static double WrkPercentile(string output, string p)
    {
        var m = Regex.Match(output, $@"^\s+{p}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        if (!m.Success) return double.NaN;
        var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => value / 1000, "ms" => value, _ => value * 1000 };
    }

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex WrkRequests();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex WrkRps();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex WrkNon2xx();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex WrkSocketErrors();

    [GeneratedRegex(@"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded")]
    private static partial Regex H2Requests();

    [GeneratedRegex(@"status codes: (\d+) 2xx")]
    private static partial Regex H2Status();

    [GeneratedRegex(@"finished in [\d.]+\w+, ([\d.]+) req/s")]
    private static partial Regex H2Rps();
}
