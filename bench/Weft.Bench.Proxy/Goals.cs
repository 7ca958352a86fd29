using System.Globalization;
using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>Issue 3's goal figures next to what this run measured for weft. Nothing is asserted.</summary>
internal static class Goals
{
    public static string Render(JsonObject results, string? weftUnavailable)
    {
        var table = new Table("Goals (issues 3 and 5), this run", "goal", "measured", "verdict");
        // Numbers were stored as long or double; read either.
        double? Get(string part, string target, string field) =>
            results[part]?[target]?[field] is JsonValue v && double.TryParse(v.ToJsonString(), CultureInfo.InvariantCulture, out var d) ? d : null;
        void Row(string goal, double? value, string unit, Func<double, bool> met, string? perRound = null)
        {
            var measured = value is { } v ? Table.F(v, 2) + unit : "not measured";
            if (value is not null && perRound is not null and not "-")
                measured += $"; per round {perRound}";
            table.Row(goal, measured, value is { } x ? (met(x) ? "met" : "not met") : "-");
        }

        // The verdict is the ratio of the medians; the per-round ratios beside it (Paired) show how far the run's noise reaches.
        Row("1 hop req/s >= haproxy's (HTTP/1.1)", Get("http1", "weft 1 hop", "rps_vs_haproxy"), "x", v => v >= 1,
            Paired.Describe(results["http1"], "weft 1 hop", "haproxy", "rps"));
        Row("1 hop CPU/req <= 1.2x haproxy's (HTTP/1.1)", Get("http1", "weft 1 hop", "proxy_cpu_vs_haproxy"), "x", v => v <= 1.2,
            Paired.Describe(results["http1"], "weft 1 hop", "haproxy", "proxy_cpu_us_per_request"));
        Row("1 hop CPU/req <= 1.2x haproxy's (HTTP/2)", Get("http2", "weft 1 hop", "proxy_cpu_vs_haproxy"), "x", v => v <= 1.2,
            Paired.Describe(results["http2"], "weft 1 hop", "haproxy", "proxy_cpu_us_per_request"));
        Row("2 hops added p99 < 1 ms at 1,000 rps", Get("fixed_rate", "weft 2 hops", "added_p99_ms"), " ms", v => v < 1);
        // The fast path carrying the client sidecar's hop to the next sidecar, against the same build with WEFT_FAST_PATH_SIDECARS=0.
        Row("(A/B) 2 hops added p99 at 1,000 rps, layered client", Get("fixed_rate", WeftTarget.LayeredTwoHopsName, "added_p99_ms"), " ms", v => v < 1);
        Row("(A/B) 2 hops CPU/req vs layered client (HTTP/1.1)",
            Get("http1", "weft 2 hops", "median_proxy_cpu_us_per_request") / Get("http1", WeftTarget.LayeredTwoHopsName, "median_proxy_cpu_us_per_request"), "x", v => v < 1);
        // The inbound app client against the same server sidecar with WEFT_INBOUND_FAST=0 (YARP to the app), same run.
        Row("2 hops added p99 < 1 ms at 1,000 rps (inbound YARP, before)", Get("fixed_rate", WeftTarget.YarpInboundName, "added_p99_ms"), " ms", v => v < 1);
        Row("inbound app client: 2 hops CPU/req vs inbound YARP (HTTP/1.1)",
            Get("http1", "weft 2 hops", "median_proxy_cpu_us_per_request") / Get("http1", WeftTarget.YarpInboundName, "median_proxy_cpu_us_per_request"), "x", v => v < 1);
        Row("inbound app client: server sidecar CPU/req vs inbound YARP (HTTP/1.1)",
            Get("http1", "weft 2 hops", "median_server_sidecar_cpu_us_per_request") / Get("http1", WeftTarget.YarpInboundName, "median_server_sidecar_cpu_us_per_request"), "x", v => v < 1);
        Row("inbound app client: 2 hops CPU/req vs inbound YARP (fixed 1,000 rps)",
            Get("fixed_rate", "weft 2 hops", "median_proxy_cpu_us_per_request") / Get("fixed_rate", WeftTarget.YarpInboundName, "median_proxy_cpu_us_per_request"), "x", v => v < 1);
        Row("sidecar RSS idle < 30 MB", Get("http1", "weft 1 hop", "idle_rss_kib") / 1024, " MB", v => v < 30);
        Row("sidecar RSS under load < 60 MB", Get("http1", "weft 1 hop", "max_rss_kib") / 1024, " MB", v => v < 60);
        // The fast path against the layered path (Kestrel + YARP), the same sidecar build with --fast-path off, same run.
        Row("fast path: 1 hop CPU/req vs --fast-path off (HTTP/1.1)",
            Get("http1", "weft 1 hop", "median_proxy_cpu_us_per_request") / Get("http1", WeftTarget.NoFastPathName, "median_proxy_cpu_us_per_request"), "x", v => v < 1);
        if (results["http1"]?[WeftTarget.AotName] is JsonObject)
        {
            // run.sh --aot: the same goals for the Native AOT build of the sidecar.
            Row("AOT sidecar RSS idle < 30 MB", Get("http1", WeftTarget.AotName, "idle_rss_kib") / 1024, " MB", v => v < 30);
            Row("AOT sidecar RSS under load < 60 MB", Get("http1", WeftTarget.AotName, "max_rss_kib") / 1024, " MB", v => v < 60);
            Row("AOT 1 hop CPU/req <= 1.2x haproxy's (HTTP/1.1)", Get("http1", WeftTarget.AotName, "proxy_cpu_vs_haproxy"), "x", v => v <= 1.2);
        }

        // Issue 5: what counting costs, the same sidecar with --metrics on and off, alternating in the same run.
        const string off = WeftTarget.NoMetricsName;
        Row("metrics cost, 1 hop req/s, on vs off <= 3% (HTTP/1.1)", Cost(Get("http1", off, "median_rps"), Get("http1", "weft 1 hop", "median_rps")), "%", v => v <= 3);
        Row("metrics cost, 1 hop req/s, on vs off <= 3% (HTTP/2)", Cost(Get("http2", off, "median_rps"), Get("http2", "weft 1 hop", "median_rps")), "%", v => v <= 3);
        Row("metrics cost, 1 hop CPU/req, on vs off <= 3% (HTTP/1.1)", Extra(Get("http1", "weft 1 hop", "median_proxy_cpu_us_per_request"), Get("http1", off, "median_proxy_cpu_us_per_request")), "%", v => v <= 3);
        var countingNs = results["metrics_counting"]?["ns_per_request"] is JsonValue c && double.TryParse(c.ToJsonString(), CultureInfo.InvariantCulture, out var ns) ? ns : (double?)null;
        Row("metrics counting, timed alone, / 1 hop CPU/req <= 3% (HTTP/1.1)",
            countingNs / (Get("http1", "weft 1 hop", "median_proxy_cpu_us_per_request") * 1000) * 100, "%", v => v <= 3);
        // Issue 5: tracing at 1% sampling costs at most 5% of the untraced sidecar's throughput.
        var traced = Get("http1", "weft 1 hop traced 1%", "median_rps");
        var plain = Get("http1", "weft 1 hop", "median_rps");
        Row("tracing 1% req/s >= 0.95x untraced (HTTP/1.1, issue 5)", traced / plain, "x", v => v >= 0.95);
        // The same cost as CPU per request, which a loaded machine's swings in req/s hide less.
        Row("tracing 1% CPU/req, traced vs untraced <= 5% (HTTP/1.1)",
            Extra(Get("http1", "weft 1 hop traced 1%", "median_proxy_cpu_us_per_request"), Get("http1", "weft 1 hop", "median_proxy_cpu_us_per_request")), "%", v => v <= 5);
        var tracingNs = results["tracing_cost"]?["ns_per_request"] is JsonValue t && double.TryParse(t.ToJsonString(), CultureInfo.InvariantCulture, out var tns) ? tns : (double?)null;
        Row("tracing 1%, timed alone, / 1 hop CPU/req <= 5% (HTTP/1.1)",
            tracingNs / (Get("http1", "weft 1 hop", "median_proxy_cpu_us_per_request") * 1000) * 100, "%", v => v <= 5);
        if (weftUnavailable is not null) table.Note($"weft: {weftUnavailable}");
        return table.ToString();

        // The loss, in percent, of going from the better figure (off) to the measured one (on); negative when on did better.
        static double? Cost(double? better, double? measured) => better is { } b && measured is { } m && b > 0 ? 100 * (b - m) / b : null;

        // The extra, in percent, of the measured figure (on) over the baseline (off); negative when on did better.
        static double? Extra(double? measured, double? baseline) => baseline is { } b && measured is { } m && b > 0 ? 100 * (m - b) / b : null;
    }

    /// <summary>Issue 4's mTLS goals: two hops with mTLS vs without, and vs two HAProxies over TLS, from the same run.</summary>
    public static string RenderMtls(JsonObject results, string? weftUnavailable)
    {
        var table = new Table("Goals (issue 4, mTLS), this run", "goal", "measured", "verdict");
        double? Get(string part, string target, string field) =>
            results[part]?[target]?[field] is JsonValue v && double.TryParse(v.ToJsonString(), CultureInfo.InvariantCulture, out var d) ? d : null;
        void Row(string goal, double? value, Func<double, bool> met, string? perRound = null) =>
            table.Row(goal, (value is { } v ? Table.F(v, 2) + "x" : "not measured") + (value is not null && perRound is not null and not "-" ? $"; per round {perRound}" : ""),
                value is { } x ? (met(x) ? "met" : "not met") : "-");

        // The verdicts are ratios of the medians; the per-round ratios beside them (Paired) show how far the run's noise reaches.
        const string mtls = "weft 2 hops", plain = WeftTarget.PlaintextName, haproxy = HaproxyTlsPairTarget.TargetName;
        foreach (var (part, label) in new[] { ("http1", "HTTP/1.1"), ("http2", "HTTP/2") })
        {
            Row($"2 hops mTLS req/s >= 0.85x plaintext ({label})", Get(part, mtls, "median_rps") / Get(part, plain, "median_rps"), v => v >= 0.85,
                Paired.Describe(results[part], mtls, plain, "rps"));
            Row($"2 hops mTLS req/s >= haproxy 2 hops TLS ({label})", Get(part, mtls, "median_rps") / Get(part, haproxy, "median_rps"), v => v >= 1,
                Paired.Describe(results[part], mtls, haproxy, "rps"));
        }

        // The client sidecar's hop on the fast path (A) against the same build with WEFT_FAST_PATH_SIDECARS=0 (B), same run.
        const string layered = WeftTarget.LayeredTwoHopsName;
        foreach (var (part, label) in new[] { ("http1", "HTTP/1.1"), ("http2", "HTTP/2") })
        {
            table.Row($"(A/B) 2 hops mTLS req/s, fast path vs layered client ({label})",
                Table.Ratio(Get(part, mtls, "median_rps") ?? double.NaN, Get(part, layered, "median_rps") ?? double.NaN), "");
            table.Row($"(A/B) 2 hops mTLS CPU/req, fast path vs layered client ({label})",
                Table.Ratio(Get(part, mtls, "median_proxy_cpu_us_per_request") ?? double.NaN, Get(part, layered, "median_proxy_cpu_us_per_request") ?? double.NaN), "");
            table.Row($"(info) layered client mTLS req/s vs haproxy 2 hops TLS ({label})",
                Table.Ratio(Get(part, layered, "median_rps") ?? double.NaN, Get(part, haproxy, "median_rps") ?? double.NaN), "");
        }

        // The default pair ("weft 2 hops": Weft's own HTTP/2 client and server, A) against SocketsHttpHandler -> Kestrel (B, a
        // client sidecar with WEFT_FAST_H2=0), same server sidecar, same run. Only HTTP/1.1 callers take the fast path, so only
        // they reach the own client: h2 callers go the layered way in both sidecars, and their rows are a control (same code on
        // both sides: the spread there is the run's noise).
        const string socketsH2 = WeftTarget.SocketsH2TwoHopsName;
        foreach (var (part, label) in new[] { ("http1", "HTTP/1.1"), ("http2", "HTTP/2, control: same code") })
        {
            table.Row($"(A/B) 2 hops mTLS req/s, own h2 pair vs WEFT_FAST_H2=0 ({label})",
                Table.Ratio(Get(part, mtls, "median_rps") ?? double.NaN, Get(part, socketsH2, "median_rps") ?? double.NaN), "");
            var a = Get(part, mtls, "median_proxy_cpu_us_per_request");
            var b = Get(part, socketsH2, "median_proxy_cpu_us_per_request");
            table.Row($"(A/B) 2 hops mTLS CPU/req, own h2 pair vs WEFT_FAST_H2=0 ({label})",
                Versus(a, b, " µs", 1), "");
            table.Row($"(info) WEFT_FAST_H2=0 mTLS req/s vs haproxy 2 hops TLS ({label})",
                Table.Ratio(Get(part, socketsH2, "median_rps") ?? double.NaN, Get(part, haproxy, "median_rps") ?? double.NaN), "");
        }

        // The server sidecar's end of that hop on Weft's own HTTP/2 server (A, "weft 2 hops") against Kestrel's (B, a server
        // sidecar with WEFT_FAST_H2_SERVER=0), same client sidecar, same run. HTTP/1.1 callers only, as above.
        const string kestrelH2 = WeftTarget.KestrelH2TwoHopsName;
        {
            table.Row("(A/B) 2 hops mTLS req/s, own h2 pair vs WEFT_FAST_H2_SERVER=0 (HTTP/1.1)",
                Table.Ratio(Get("http1", mtls, "median_rps") ?? double.NaN, Get("http1", kestrelH2, "median_rps") ?? double.NaN), "");
            var a = Get("http1", mtls, "median_proxy_cpu_us_per_request");
            var b = Get("http1", kestrelH2, "median_proxy_cpu_us_per_request");
            table.Row("(A/B) 2 hops mTLS CPU/req, own h2 pair vs WEFT_FAST_H2_SERVER=0 (HTTP/1.1)",
                Versus(a, b, " µs", 1), "");
            var serverA = Get("http1", mtls, "median_server_sidecar_cpu_us_per_request");
            var serverB = Get("http1", kestrelH2, "median_server_sidecar_cpu_us_per_request");
            table.Row("(A/B) 2 hops mTLS server sidecar CPU/req, own h2 server vs Kestrel (HTTP/1.1)",
                Versus(serverA, serverB, " µs", 1), "");
        }

        // --knob: the default pair ("weft 2 hops", A) against a pair with the knob on both sidecars (B), same run.
        if (results["knobs"] is JsonObject knobs)
        {
            foreach (var (knob, launch) in knobs)
            {
                var name = WeftTarget.TwoHopsKnobName(knob);
                foreach (var (part, label) in new[] { ("http1", "HTTP/1.1"), ("http2", "HTTP/2") })
                {
                    if (results[part] is not JsonObject) continue;
                    table.Row($"(A/B) 2 hops mTLS vs \"{knob}\" ({label})",
                        "req/s " + Versus(Get(part, mtls, "median_rps"), Get(part, name, "median_rps"), "", 0) +
                        ", CPU/req " + Versus(Get(part, mtls, "median_proxy_cpu_us_per_request"), Get(part, name, "median_proxy_cpu_us_per_request"), " µs", 1), "");
                    table.Row($"(A/B) 2 hops mTLS vs \"{knob}\" ({label}), per round",
                        "req/s " + Paired.Describe(results[part], mtls, name, "rps") +
                        ", CPU/req " + Paired.Describe(results[part], mtls, name, "proxy_cpu_us_per_request"), "");
                }

                table.Note($"{name}: both sidecars {launch}");
            }
        }

        // Not goals, but what the req/s split of 2 shared cores hides: the proxies' own CPU per request.
        foreach (var (part, label) in new[] { ("http1", "HTTP/1.1"), ("http2", "HTTP/2") })
        {
            var ours = Get(part, mtls, "median_proxy_cpu_us_per_request");
            // The inbound app client (raw HTTP/1.1 to nginx) vs the same server sidecar on YARP (WEFT_INBOUND_FAST=0).
            table.Row($"(info) 2 hops mTLS req/s, inbound app client vs inbound YARP ({label})",
                Table.Ratio(Get(part, mtls, "median_rps") ?? double.NaN, Get(part, WeftTarget.YarpInboundName, "median_rps") ?? double.NaN), "");
            table.Row($"(info) 2 hops mTLS CPU/req, inbound app client vs inbound YARP ({label})",
                Table.Ratio(ours ?? double.NaN, Get(part, WeftTarget.YarpInboundName, "median_proxy_cpu_us_per_request") ?? double.NaN), "");
            var server = Get(part, mtls, "median_server_sidecar_cpu_us_per_request");
            var serverYarp = Get(part, WeftTarget.YarpInboundName, "median_server_sidecar_cpu_us_per_request");
            table.Row($"(info) server sidecar CPU/req, inbound app client vs inbound YARP ({label})",
                Versus(server, serverYarp, " µs", 1), "");
            table.Row($"(info) 2 hops mTLS CPU/req vs plaintext ({label})", Table.Ratio(ours ?? double.NaN, Get(part, plain, "median_proxy_cpu_us_per_request") ?? double.NaN), "");
            table.Row($"(info) 2 hops mTLS CPU/req vs haproxy 2 hops TLS ({label})", Table.Ratio(ours ?? double.NaN, Get(part, haproxy, "median_proxy_cpu_us_per_request") ?? double.NaN), "");
        }

        // --only fixed: issue 3's two-hop tail goal, with HAProxy's TLS pair (also two hops, TLS 1.3, h2 between) as the
        // same-run reference for what this machine's scheduling adds to any two processes in the path.
        var ourTail = Get("fixed_rate", mtls, "added_p99_ms");
        var theirTail = Get("fixed_rate", haproxy, "added_p99_ms");
        if (ourTail is not null || theirTail is not null)
        {
            table.Row("2 hops mTLS added p99 < 1 ms at 1,000 rps", ourTail is { } t ? Table.F(t, 3) + " ms" : "not measured", ourTail is { } u ? (u < 1 ? "met" : "not met") : "-");
            table.Row("(info) haproxy 2 hops TLS added p99 at 1,000 rps, same run", theirTail is { } h ? Table.F(h, 3) + " ms" : "not measured", "");
            table.Row("(info) 2 hops mTLS added p99 vs haproxy 2 hops TLS", Table.Ratio(ourTail ?? double.NaN, theirTail ?? double.NaN), "");
            table.Row("(info) 2 hops mTLS CPU/req at 1,000 rps vs haproxy 2 hops TLS",
                Table.Ratio(Get("fixed_rate", mtls, "median_proxy_cpu_us_per_request") ?? double.NaN, Get("fixed_rate", haproxy, "median_proxy_cpu_us_per_request") ?? double.NaN), "");
        }

        if (weftUnavailable is not null) table.Note($"weft: {weftUnavailable}");
        return table.ToString();

        // A / B as a ratio, then both figures: "0.97x (93.6 vs 96.5 µs)".
        static string Versus(double? a, double? b, string unit, int decimals) =>
            Table.Ratio(a ?? double.NaN, b ?? double.NaN) + (a is { } x && b is { } y ? $" ({Table.F(x, decimals)} vs {Table.F(y, decimals)}{unit})" : "");
    }
}
