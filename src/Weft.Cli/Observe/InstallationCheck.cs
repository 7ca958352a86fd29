using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Weft.Cli.Api;
using Weft.Core.Mesh;
using Weft.Core.Text;

namespace Weft.Cli.Observe;

/// <summary>
/// The checks behind <c>weft check</c>, in the order an operator would debug: can I reach the server,
/// does it take my token, is the CA sound, and is every sidecar current, configured and certified.
/// Each failed line carries the command or setting that fixes it.
/// </summary>
internal sealed class InstallationCheck(WeftApiClient client, TimeProvider time)
{
    // A root that dies within this window takes every workload certificate with it; rotating takes a
    // cross-signed overlap, so the operator needs the warning well before.
    public static readonly TimeSpan RootExpiryMargin = TimeSpan.FromDays(30);

    // Sidecars report every 2 s; five missed in a row means the sidecar is hung or cut off.
    public static readonly TimeSpan StaleReport = TimeSpan.FromSeconds(10);

    // The server's own default (ServerOptions.LeafTtl), used when the CA configuration cannot be read.
    private static readonly TimeSpan DefaultLeafTtl = TimeSpan.FromHours(24);

    private readonly List<CheckLine> _lines = [];

    public async Task<CheckReport> RunAsync(CancellationToken ct)
    {
        if (await ServerAsync(ct) is { } serverVersion)
        {
            if (await TokenAsync(ct))
            {
                await CaAsync(ct);
                try
                {
                    await ProxiesAsync(serverVersion, ct);
                }
                catch (ServerRefusedException e)
                {
                    Add("proxy", "sidecars", CheckLine.Fail, $"the server answered {e.StatusCode}: {e.ServerMessage}", "use the server's management token to read the sidecars");
                }
            }
            else
            {
                Add("ca", "certificate authority", CheckLine.Skip, "not checked: needs a token the server accepts");
                Add("proxy", "sidecars", CheckLine.Skip, "not checked: needs a token the server accepts");
            }
        }
        return new CheckReport(_lines.All(l => l.Status != CheckLine.Fail), client.Address.GetLeftPart(UriPartial.Authority), _lines);
    }

    /// <returns>The server's version, or null when it cannot be reached (nothing else can be checked then).</returns>
    private async Task<string?> ServerAsync(CancellationToken ct)
    {
        try
        {
            var leader = await client.GetLeaderAsync(ct);
            Add("server", "server reachable", CheckLine.Ok, $"{client.Address.GetLeftPart(UriPartial.Authority)} answers, leader {leader}");
        }
        catch (Exception e) when (e is ServerUnreachableException or ServerRefusedException or UnexpectedResponseException)
        {
            var reason = e is ServerUnreachableException u ? u.Reason : e.Message;
            Add("server", "server reachable", CheckLine.Fail, $"{client.Address.GetLeftPart(UriPartial.Authority)}: {reason}",
                $"start the server (weft server --data-dir DIR) or point {ApiConnection.AddressVariable} / --http-addr at it");
            Add("acl", "token", CheckLine.Skip, "not checked: the server is unreachable");
            Add("ca", "certificate authority", CheckLine.Skip, "not checked: the server is unreachable");
            Add("proxy", "sidecars", CheckLine.Skip, "not checked: the server is unreachable");
            return null;
        }

        try
        {
            using var self = await client.GetAgentSelfAsync(ct);
            var version = self.RootElement.TryGetProperty("Config", out var config) && config.TryGetProperty("Version", out var v) ? v.GetString() : null;
            return version ?? "";
        }
        catch (ServerRefusedException)
        {
            // agent/self needs a token; the token line says what is wrong with it.
            return "";
        }
    }

    private async Task<bool> TokenAsync(CancellationToken ct)
    {
        try
        {
            using var self = await client.GetTokenSelfAsync(ct);
            var root = self.RootElement;
            var description = root.TryGetProperty("ServiceIdentities", out var ids) && ids.ValueKind == JsonValueKind.Array && ids.GetArrayLength() > 0
                ? $"service token for \"{ids[0].GetProperty("ServiceName").GetString()}\""
                : "management token";
            Add("acl", "token valid", CheckLine.Ok, $"the server accepts the token: {description}");
            return true;
        }
        catch (ServerRefusedException e) when (e.StatusCode == 401)
        {
            Add("acl", "token valid", CheckLine.Ok, "ACLs are disabled: the server runs with --dev-open and checks no token");
            return true;
        }
        catch (ServerRefusedException e) when (e.IsTokenRefused)
        {
            Add("acl", "token valid", CheckLine.Fail, $"the server refused the token: {e.ServerMessage}",
                $"set {ApiConnection.TokenVariable} or --token to a valid token (the server's own is in DATA_DIR/acl-token; `weft acl token create` makes service tokens)");
            return false;
        }
    }

    private async Task CaAsync(CancellationToken ct)
    {
        JsonDocument roots;
        try
        {
            roots = await client.GetCaRootsAsync(ct);
        }
        catch (ServerRefusedException e)
        {
            Add("ca", "CA roots", CheckLine.Fail, $"the server answered {e.StatusCode}: {e.ServerMessage}", "read the server's log: its CA did not start");
            return;
        }

        using (roots)
        {
            var now = time.GetUtcNow();
            var root = roots.RootElement;
            var activeId = root.TryGetProperty("ActiveRootID", out var a) ? a.GetString() ?? "" : "";
            var trustDomain = root.TryGetProperty("TrustDomain", out var t) ? t.GetString() ?? "" : "";
            var list = root.TryGetProperty("Roots", out var r) && r.ValueKind == JsonValueKind.Array ? r.EnumerateArray().ToList() : [];
            var active = list.FirstOrDefault(x => x.TryGetProperty("Active", out var act) && act.ValueKind == JsonValueKind.True);
            if (active.ValueKind != JsonValueKind.Object || activeId.Length == 0)
            {
                Add("ca", "active root", CheckLine.Fail, "the CA has no active root, so no workload certificate can be signed", "restart weft server: it creates a root on start; then `weft ca roots`");
                return;
            }

            var notAfter = active.GetProperty("NotAfter").GetDateTimeOffset();
            var left = notAfter - now;
            if (left <= TimeSpan.Zero)
                Add("ca", "active root", CheckLine.Fail, $"the active root expired {Ago(-left)} ago ({Stamp(notAfter)})", "rotate the CA: weft ca rotate");
            else if (left < RootExpiryMargin)
                Add("ca", "active root", CheckLine.Fail, $"the active root expires in {Ago(left)} ({Stamp(notAfter)})", "rotate the CA before it expires: weft ca rotate");
            else
                Add("ca", "active root", CheckLine.Ok, $"valid until {Stamp(notAfter)}, trust domain {trustDomain}");

            var bad = new List<string>();
            foreach (var item in list)
            {
                var id = item.TryGetProperty("ID", out var i) ? i.GetString() ?? "" : "";
                try
                {
                    using var cert = X509Certificate2.CreateFromPem(item.GetProperty("RootCert").GetString() ?? "");
                    if (cert.NotAfter.ToUniversalTime() < now.UtcDateTime)
                        bad.Add($"root {Short(id)} expired");
                }
                catch (Exception e) when (e is CryptographicException or ArgumentException or KeyNotFoundException)
                {
                    bad.Add($"root {Short(id)} is not a PEM certificate");
                }
            }
            if (bad.Count > 0)
                Add("ca", "trust bundle", CheckLine.Fail, string.Join("; ", bad), "rotate the CA (weft ca rotate) so sidecars get a fresh bundle");
            else
                Add("ca", "trust bundle", CheckLine.Ok, $"{list.Count} trusted root{(list.Count == 1 ? "" : "s")}, all parse and are in date");
        }
    }

    private async Task ProxiesAsync(string serverVersion, CancellationToken ct)
    {
        var proxies = await client.GetProxiesAsync(ct);
        var leafTtl = await LeafTtlAsync(ct);
        var now = time.GetUtcNow();

        foreach (var p in proxies)
        {
            var name = $"proxy {p.ProxyId} ({p.Service})";
            var problems = new List<(string Detail, string Fix)>();
            var warnings = new List<string>();

            // Before its first stats report a sidecar's version is unknown (the server sends "" or nothing).
            if (string.IsNullOrEmpty(p.Version))
                warnings.Add(p.LastStatsReport is null ? "no stats report yet, version unknown" : "version not reported");
            else if (serverVersion.Length > 0 && p.Version != serverVersion)
                problems.Add(($"runs weft {p.Version}, the server {serverVersion}", $"restart the sidecar with weft {serverVersion}"));

            if (p.LastNack is { } nack && nack.Version >= p.AckedVersion && p.Nacks > 0)
                problems.Add(($"rejected config v{nack.Version}: {nack.Reason}", "correct the config entry named in the reason (weft config read / weft config write)"));
            else if (p.AckedVersion < p.SentVersion && now - p.ConnectedAt > StaleReport)
                problems.Add(($"has not acknowledged config v{p.SentVersion} (last acknowledged v{p.AckedVersion})", "the sidecar is stuck: read its log and restart it"));

            if (p.LastStatsReport is { } last && now - last > StaleReport)
                problems.Add(($"stale: last report {Ago(now - last)} ago", "the sidecar is hung or cut off from the server: restart it (weft proxy ...)"));

            if (p.CertificateNotAfter is { } certEnd)
            {
                var left = certEnd - now;
                if (left <= TimeSpan.Zero)
                    problems.Add(($"certificate expired {Ago(-left)} ago", "the sidecar cannot renew: check it reaches the server with a valid token, then restart it"));
                else if (left < leafTtl / 10)
                    warnings.Add($"certificate expires in {Ago(left)} (renewal is late)");
            }

            var detail = $"weft {(string.IsNullOrEmpty(p.Version) ? "?" : p.Version)}, config v{p.AckedVersion} acknowledged"
                + (p.ConfigAgeSeconds is { } age ? $", {Ago(TimeSpan.FromSeconds(age))} old" : "")
                + (p.CertificateNotAfter is { } end ? $", certificate until {Stamp(end)}" : "");
            if (problems.Count > 0)
                Add("proxy", name, CheckLine.Fail, string.Join("; ", problems.Select(x => x.Detail)), string.Join("; ", problems.Select(x => x.Fix).Distinct()));
            else if (warnings.Count > 0)
                Add("proxy", name, CheckLine.Warn, detail + "; " + string.Join("; ", warnings));
            else
                Add("proxy", name, CheckLine.Ok, detail);
        }

        await MissingSidecarsAsync(proxies, ct);
    }

    /// <summary>Instances registered by a sidecar whose sidecar is no longer on the stream.</summary>
    private async Task MissingSidecarsAsync(List<ProxyStatus> proxies, CancellationToken ct)
    {
        var connected = proxies.Select(p => p.ProxyId).ToHashSet(StringComparer.Ordinal);
        var services = await client.GetServicesAsync(ct);
        var registered = 0;
        foreach (var service in services.Keys.Order(StringComparer.Ordinal))
        {
            foreach (var entry in await client.GetServiceHealthAsync(service, ct))
            {
                if (entry.Service is not { } instance || instance.Meta?.GetValueOrDefault(MeshMeta.Sidecar) != "true") continue;
                registered++;
                if (!connected.Contains(instance.Id ?? ""))
                {
                    Add("proxy", $"proxy {instance.Id} ({service})", CheckLine.Fail, "registered by a sidecar that is not connected to the server",
                        $"start its sidecar again (weft proxy --service {service} ...), or remove the instance: weft deregister {instance.Id}");
                }
            }
        }
        if (proxies.Count == 0 && registered == 0)
            Add("proxy", "sidecars", CheckLine.Ok, "no sidecars registered or connected");
    }

    private async Task<TimeSpan> LeafTtlAsync(CancellationToken ct)
    {
        try
        {
            using var config = await client.GetCaConfigurationAsync(ct);
            var text = config.RootElement.GetProperty("Config").GetProperty("LeafCertTTL").GetString();
            return GoDuration.TryParse(text, out var ttl, out _) && ttl > TimeSpan.Zero ? ttl : DefaultLeafTtl;
        }
        catch (Exception e) when (e is ServerRefusedException or KeyNotFoundException or InvalidOperationException)
        {
            return DefaultLeafTtl;
        }
    }

    private void Add(string category, string name, string status, string detail, string? fix = null) =>
        _lines.Add(new CheckLine(category, name, status, detail, fix));

    private static string Short(string id) => id.Length > 23 ? id[..23] + "…" : id;

    private static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);

    public static string Ago(TimeSpan span) => span switch
    {
        { TotalDays: >= 2 } => $"{span.TotalDays:0} days",
        { TotalHours: >= 2 } => $"{span.TotalHours:0} hours",
        { TotalMinutes: >= 2 } => $"{span.TotalMinutes:0} minutes",
        _ => $"{Math.Max(0, span.TotalSeconds):0} seconds",
    };
}
