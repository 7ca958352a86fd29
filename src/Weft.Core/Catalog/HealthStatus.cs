namespace Weft.Core.Catalog;

/// <summary>Health states with Consul's spelling; a check is always in exactly one.</summary>
public static class HealthStatus
{
    public const string Passing = "passing";
    public const string Warning = "warning";
    public const string Critical = "critical";
    public const string Maintenance = "maintenance";

    public static bool IsCheckStatus(string? status) =>
        status is Passing or Warning or Critical;

    /// <summary>The worst of two states, in Consul's order: maintenance, critical, warning, passing.</summary>
    public static string Worst(string a, string b) => Rank(a) >= Rank(b) ? a : b;

    private static int Rank(string status) => status switch
    {
        Passing => 0,
        Warning => 1,
        Critical => 2,
        Maintenance => 3,
        _ => 2,
    };
}
