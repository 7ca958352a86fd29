using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>A per-request cost timed on its own: one warm-up run (the JIT), then 5 timed runs; the median per request.</summary>
internal static class TimedAlone
{
    /// <summary>Warm-up included: how many times <c>run</c> is called.</summary>
    public const int Runs = 6;

    /// <param name="requests">How many requests one call of <paramref name="run"/> does.</param>
    public static JsonObject Trials(int requests, Action run)
    {
        var trials = new List<double>();
        for (var trial = -1; trial < Runs - 1; trial++)
        {
            var started = Stopwatch.GetTimestamp();
            run();
            var ns = Stopwatch.GetElapsedTime(started).TotalNanoseconds / requests;
            if (trial >= 0) trials.Add(ns); // the first is the JIT's warm-up
        }

        trials.Sort();
        return new JsonObject
        {
            ["ns_per_request"] = LoadResult.Round(trials[trials.Count / 2]),
            ["trials_ns"] = new JsonArray(trials.Select(t => LoadResult.Round(t)).ToArray()),
        };
    }
}
