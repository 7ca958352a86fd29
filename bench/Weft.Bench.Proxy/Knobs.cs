using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>
/// How one sidecar of the <c>--knobs</c> comparison is started: which executable (the Release <c>weft.dll</c> under
/// <c>dotnet</c>, or a native <c>weft</c>), which environment variables (runtime knobs read at startup such as
/// <c>DOTNET_GCgen0size</c>) and which runtimeconfig.json properties (in a copy of the build, for switches that
/// have no environment variable).
/// </summary>
internal sealed record SidecarLaunch(string Name, string Executable, IReadOnlyList<string> PrefixArgs, IReadOnlyDictionary<string, string> Variables)
{
    /// <summary><c>weft proxy</c> flags added after the bench's own (e.g. <c>--fast-path off</c>).</summary>
    public IReadOnlyList<string> ProxyArgs { get; init; } = [];

    public const string BaselineName = "baseline";

    /// <summary>The knobs compared when <c>--knobs</c> is given without <c>--knob</c>: every one a single change from the baseline.</summary>
    public static readonly string[] DefaultSpecs =
    [
        "gen0 4MB|DOTNET_GCgen0size=400000",
        "gen0 max budget 4MB|DOTNET_GCgen0MaxBudget=400000",
        "conserve memory 7|DOTNET_GCConserveMemory=7",
        "heap hard limit 64MB|DOTNET_GCHeapHardLimit=4000000",
        "TieredPGO off|DOTNET_TieredPGO=0",
        "TieredCompilation off|DOTNET_TieredCompilation=0",
        "spin limit 0|DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0",
        "inline socket completions|DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1",
        "UseSystemResourceKeys|config:System.Resources.UseSystemResourceKeys=true",
        // W^X maps every page of JIT'd code twice, through a shared memfd ("doublemapper") that counts in RSS.
        "W^X off|DOTNET_EnableWriteXorExecute=0",
        "W^X off + TieredPGO off + spin 0|DOTNET_EnableWriteXorExecute=0;DOTNET_TieredPGO=0;DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0",
    ];

    /// <summary>
    /// <c>NAME|SETTING;SETTING...</c>, each setting <c>VAR=VALUE</c> (an environment variable),
    /// <c>config:KEY=VALUE</c> (a runtimeconfig.json property, in a copy of the build), <c>exe:PATH</c> (a native
    /// <c>weft</c> executable run instead of <c>dotnet weft.dll</c>), <c>dll:PATH</c> (another build's <c>weft.dll</c>,
    /// e.g. one of the commit before a change, to compare two builds in one run) or <c>arg:FLAG VALUE</c> (<c>weft proxy</c> flags,
    /// split on spaces, e.g. <c>arg:--fast-path off</c>).
    /// </summary>
    public static SidecarLaunch Parse(string spec, BenchContext ctx, int index)
    {
        var bar = spec.IndexOf('|');
        var name = bar < 0 ? spec : spec[..bar];
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        var config = new Dictionary<string, string>(StringComparer.Ordinal);
        string? exe = null, otherDll = null;
        var proxyArgs = new List<string>();
        foreach (var setting in bar < 0 ? [] : spec[(bar + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (setting.StartsWith("exe:", StringComparison.Ordinal))
            {
                exe = Path.GetFullPath(setting["exe:".Length..]);
                continue;
            }

            if (setting.StartsWith("dll:", StringComparison.Ordinal))
            {
                otherDll = Path.GetFullPath(setting["dll:".Length..]);
                if (!File.Exists(otherDll)) throw new ArgumentException($"--knob {spec}: no file {otherDll}");
                continue;
            }

            if (setting.StartsWith("arg:", StringComparison.Ordinal))
            {
                proxyArgs.AddRange(setting["arg:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
                continue;
            }

            var isConfig = setting.StartsWith("config:", StringComparison.Ordinal);
            var pair = isConfig ? setting["config:".Length..] : setting;
            var eq = pair.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--knob {spec}: \"{setting}\" is not VAR=VALUE, config:KEY=VALUE or exe:PATH");
            (isConfig ? config : environment)[pair[..eq]] = pair[(eq + 1)..];
        }

        if (exe is not null)
            return new SidecarLaunch(name, exe, [], environment) { ProxyArgs = proxyArgs };
        if (otherDll is not null && config.Count > 0) throw new ArgumentException($"--knob {spec}: dll: and config: do not combine");
        var dll = otherDll ?? (config.Count == 0 ? ctx.WeftDll : CopyWithConfig(ctx, index, config));
        return new SidecarLaunch(name, "dotnet", [dll], environment) { ProxyArgs = proxyArgs };
    }

    public static SidecarLaunch Baseline(BenchContext ctx) => new(BaselineName, "dotnet", [ctx.WeftDll], new Dictionary<string, string>());

    /// <summary>A copy of the build whose weft.runtimeconfig.json has these properties; the bench's work dir is deleted afterwards.</summary>
    private static string CopyWithConfig(BenchContext ctx, int index, Dictionary<string, string> config)
    {
        var source = Path.GetDirectoryName(ctx.WeftDll)!;
        var copy = Path.Combine(ctx.WorkDir, $"weft-knob-{index}");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var runtimeConfig = Path.Combine(copy, "weft.runtimeconfig.json");
        var json = JsonNode.Parse(File.ReadAllText(runtimeConfig))!.AsObject();
        var options = json["runtimeOptions"]!.AsObject();
        if (options["configProperties"] is not JsonObject properties)
            options["configProperties"] = properties = new JsonObject();
        foreach (var (key, value) in config)
        {
            properties[key] = bool.TryParse(value, out var b) ? JsonValue.Create(b)
                : long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? JsonValue.Create(n)
                : JsonValue.Create(value);
        }

        File.WriteAllText(runtimeConfig, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return Path.Combine(copy, Path.GetFileName(ctx.WeftDll));
    }

    public string Describe() =>
        string.Join(" ", Variables.Select(kv => $"{kv.Key}={kv.Value}").Prepend(Executable == "dotnet" ? $"dotnet {Path.GetFileName(Path.GetDirectoryName(PrefixArgs[0]))}/weft.dll" : Executable).Concat(ProxyArgs));
}

/// <summary>
/// <c>--knobs</c>: one client sidecar per launch, the same one-hop path (outbound → nginx registered without a sidecar),
/// alternating with direct and HAProxy in the HTTP/1.1 closed loop and the fixed rate, then one summary row per knob
/// beside the baseline's: idle RSS, peak RSS under load, RSS after the loads, req/s, CPU per request in both loads.
/// </summary>
internal static class KnobRun
{
    public static string TargetName(SidecarLaunch launch) => $"weft 1 hop: {launch.Name}";

    public static Table Summary(JsonObject results, IReadOnlyList<SidecarLaunch> launches, Dictionary<string, long> afterRssKiB)
    {
        double Get(string part, string target, string field) =>
            results[part]?[target]?[field] is JsonValue v && double.TryParse(v.ToJsonString(), CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
        var baseline = TargetName(launches[0]);
        // The closed-loop figures of whichever load ran (HTTP/1.1, or h2c with --only http2).
        var part = results["http1"] is JsonObject ? "http1" : "http2";
        var table = new Table($"Knobs: one-hop sidecars, each started with one change, same run (vs = ratio to the baseline sidecar; req/s and CPU: {part})",
            "knob", "RSS idle MB", "RSS max MB", "vs", "RSS after MB", "req/s", "vs", "CPU µs/req", "vs", "fixed CPU µs/req", "vs", "fixed p99 ms",
            "req/s vs baseline, per round", "CPU/req vs baseline, per round");
        foreach (var launch in launches)
        {
            var name = TargetName(launch);
            var idle = Get(part, name, "idle_rss_kib");
            var max = Get(part, name, "max_rss_kib");
            var rps = Get(part, name, "median_rps");
            var cpu = Get(part, name, "median_proxy_cpu_us_per_request");
            var fixedCpu = Get("fixed_rate", name, "median_proxy_cpu_us_per_request");
            var first = launch == launches[0];
            table.Row(launch.Name, Table.F(idle / 1024, 1), Table.F(max / 1024, 1), Table.Ratio(max, Get(part, baseline, "max_rss_kib")),
                Table.Mb(afterRssKiB.GetValueOrDefault(name)),
                Table.F(rps), Table.Ratio(rps, Get(part, baseline, "median_rps")),
                Table.F(cpu, 1), Table.Ratio(cpu, Get(part, baseline, "median_proxy_cpu_us_per_request")),
                Table.F(fixedCpu, 1), Table.Ratio(fixedCpu, Get("fixed_rate", baseline, "median_proxy_cpu_us_per_request")),
                Table.F(Get("fixed_rate", name, "median_p99_ms_from_send"), 3),
                first ? "-" : Paired.Describe(results[part], name, baseline, "rps"),
                first ? "-" : Paired.Describe(results[part], name, baseline, "proxy_cpu_us_per_request"));
        }

        foreach (var launch in launches) table.Note($"{launch.Name}: {launch.Describe()}");
        return table;
    }
}
