using System.Text.RegularExpressions;
using Weft.Server.Api;

namespace Weft.Server.Registry;

/// <summary>Consul's limits on what a registration may contain, with its error texts where it has them.</summary>
internal static partial class Validation
{
    private const int MaxMetaPairs = 64;
    private const int MaxMetaKeyLength = 128;
    private const int MaxMetaValueLength = 512;
    private const int MaxNameLength = 256;

    public static string RequireName(string? name, string what)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw ApiException.BadRequest($"Missing {what}");
        if (name.Length > MaxNameLength)
            throw ApiException.BadRequest($"Invalid {what}: longer than {MaxNameLength} characters");
        if (name.Any(char.IsControl))
            throw ApiException.BadRequest($"Invalid {what}: contains control characters");
        return name;
    }

    /// <summary>Absent means "no port", as in Consul; a given port must be 1–65535.</summary>
    public static int Port(int? port)
    {
        if (port is null) return 0;
        if (port is < 1 or > 65535)
            throw ApiException.BadRequest($"Invalid Port {port}: must be between 1 and 65535 (omit Port for a service without one)");
        return port.Value;
    }

    public static void Meta(IReadOnlyDictionary<string, string>? meta)
    {
        if (meta is null) return;
        if (meta.Count > MaxMetaPairs)
            throw ApiException.BadRequest($"Invalid Meta: has {meta.Count} pairs, the limit is {MaxMetaPairs}");
        foreach (var (key, value) in meta)
        {
            if (key.Length == 0 || key.Length > MaxMetaKeyLength || !MetaKey().IsMatch(key))
                throw ApiException.BadRequest($"Invalid Meta: key \"{key}\" must be 1–{MaxMetaKeyLength} characters of letters, digits, '_' and '-'");
            if (key.StartsWith("consul-", StringComparison.Ordinal))
                throw ApiException.BadRequest($"Invalid Meta: key \"{key}\" uses the reserved prefix \"consul-\"");
            if (value is null)
                throw ApiException.BadRequest($"Invalid Meta: value of \"{key}\" must be a string");
            if (value.Length > MaxMetaValueLength)
                throw ApiException.BadRequest($"Invalid Meta: value of \"{key}\" is longer than {MaxMetaValueLength} characters");
        }
    }

    public static void Weights(int passing, int warning)
    {
        if (passing < 1)
            throw ApiException.BadRequest("Passing must be greater than 0");
        if (warning < 0)
            throw ApiException.BadRequest("Warning must be greater or equal than 0");
    }

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex MetaKey();
}
