using System.Collections.Immutable;
using Weft.Core.Catalog;
using Weft.Server.Api;
using Weft.Server.Api.Wire;

namespace Weft.Server.Registry;

/// <summary>Turns a check in a request into a definition the server runs, with Consul's rules and defaults.</summary>
internal sealed class CheckDefinitions(bool enableScriptChecks)
{
    /// <summary>The definition, or null for a check with no kind (allowed only where the caller said so).</summary>
    public CheckDefinition? From(CheckRegistrationRequest check)
    {
        string? unsupported = check switch
        {
            { DockerContainerId.Length: > 0 } => "Docker",
            { H2Ping.Length: > 0 } => "H2PING",
            { Udp.Length: > 0 } => "UDP",
            { OSService.Length: > 0 } => "OSService",
            { AliasNode.Length: > 0 } or { AliasService.Length: > 0 } => "alias",
            _ => null,
        };
        if (unsupported is not null)
            throw ApiException.BadRequest($"Invalid check: {unsupported} checks are not supported by Weft; use HTTP, TCP, GRPC, TTL or Args");

        var args = check.Args is { Count: > 0 } ? check.Args : check.ScriptArgs;
        var kinds = new List<string>();
        if (!string.IsNullOrEmpty(check.Http)) kinds.Add(CheckTypes.Http);
        if (!string.IsNullOrEmpty(check.Tcp)) kinds.Add(CheckTypes.Tcp);
        if (!string.IsNullOrEmpty(check.Grpc)) kinds.Add(CheckTypes.Grpc);
        if (check.Ttl is not null) kinds.Add(CheckTypes.Ttl);
        if (args is { Count: > 0 }) kinds.Add(CheckTypes.Script);

        if (kinds.Count == 0) return null;
        if (kinds.Count > 1)
            throw ApiException.BadRequest($"Invalid check: give exactly one of HTTP, TCP, GRPC, TTL or Args, not {string.Join(" and ", kinds)}");

        var type = kinds[0];
        if (type == CheckTypes.Script && !enableScriptChecks)
            throw ApiException.BadRequest("Invalid check: script checks (Args) are disabled on this server; start it with --enable-script-checks to allow them");

        var interval = check.Interval ?? TimeSpan.Zero;
        if (type == CheckTypes.Ttl)
        {
            if (check.Ttl <= TimeSpan.Zero)
                throw ApiException.BadRequest("Invalid check: TTL must be > 0 for TTL checks");
        }
        else
        {
            if (interval <= TimeSpan.Zero)
                throw ApiException.BadRequest($"Invalid check: Interval must be > 0 for {type.ToUpperInvariant()} checks");
            if (interval < CheckDefinition.MinInterval) interval = CheckDefinition.MinInterval;
        }

        if (check.Timeout < TimeSpan.Zero)
            throw ApiException.BadRequest("Invalid check: Timeout must not be negative");
        if (type == CheckTypes.Http && !Uri.TryCreate(check.Http, UriKind.Absolute, out var uri) | uri is not { Scheme: "http" or "https" })
            throw ApiException.BadRequest($"Invalid check: HTTP must be an absolute http:// or https:// URL, got \"{check.Http}\"");
        if (type == CheckTypes.Tcp && !HasPort(check.Tcp!))
            throw ApiException.BadRequest($"Invalid check: TCP must be host:port, got \"{check.Tcp}\"");
        if (type == CheckTypes.Grpc && !HasPort(check.Grpc!.Split('/')[0]))
            throw ApiException.BadRequest($"Invalid check: GRPC must be host:port or host:port/service, got \"{check.Grpc}\"");
        if (check.SuccessBeforePassing < 0 || check.FailuresBeforeCritical < 0 || check.FailuresBeforeWarning < 0)
            throw ApiException.BadRequest("Invalid check: SuccessBeforePassing, FailuresBeforeWarning and FailuresBeforeCritical must not be negative");

        return new CheckDefinition
        {
            Type = type,
            Interval = type == CheckTypes.Ttl ? TimeSpan.Zero : interval,
            Timeout = check.Timeout ?? TimeSpan.Zero,
            Ttl = check.Ttl ?? TimeSpan.Zero,
            Http = check.Http ?? "",
            Method = check.Method ?? "",
            Header = (check.Header ?? []).ToImmutableSortedDictionary(h => h.Key, h => (h.Value ?? []).ToImmutableArray(), StringComparer.Ordinal),
            Body = check.Body ?? "",
            TlsSkipVerify = check.TlsSkipVerify ?? false,
            TlsServerName = check.TlsServerName ?? "",
            Tcp = check.Tcp ?? "",
            Grpc = check.Grpc ?? "",
            GrpcUseTls = check.GrpcUseTls ?? false,
            Args = args is null ? [] : [.. args],
            SuccessBeforePassing = check.SuccessBeforePassing ?? 0,
            FailuresBeforeWarning = check.FailuresBeforeWarning ?? 0,
            FailuresBeforeCritical = check.FailuresBeforeCritical ?? 0,
            DeregisterCriticalServiceAfter = check.DeregisterCriticalServiceAfter ?? TimeSpan.Zero,
        };
    }

    public static string InitialStatus(string? status) => status switch
    {
        null or "" => HealthStatus.Critical,
        _ when HealthStatus.IsCheckStatus(status) => status,
        _ => throw ApiException.BadRequest($"Invalid check status \"{status}\": use passing, warning or critical"),
    };

    private static bool HasPort(string hostPort)
    {
        var colon = hostPort.LastIndexOf(':');
        return colon > 0 && int.TryParse(hostPort.AsSpan(colon + 1), out var port) && port is >= 1 and <= 65535;
    }
}
