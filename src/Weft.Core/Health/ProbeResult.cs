using Weft.Core.Catalog;

namespace Weft.Core.Health;

/// <summary>What one run of a probe saw: a <see cref="HealthStatus"/> and the text shown to operators.</summary>
internal readonly record struct ProbeResult(string Status, string Output)
{
    public static ProbeResult Passing(string output) => new(HealthStatus.Passing, output);

    public static ProbeResult Warning(string output) => new(HealthStatus.Warning, output);

    public static ProbeResult Critical(string output) => new(HealthStatus.Critical, output);
}
