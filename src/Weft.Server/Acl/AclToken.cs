using System.Security.Cryptography;

namespace Weft.Server.Acl;

/// <summary>
/// Where the server's token comes from: <c>--acl-token-file</c>, else <c>WEFT_ACL_TOKEN</c>, else one generated
/// on first start and kept in the data dir, readable by its owner only.
/// </summary>
internal static class AclToken
{
    public const string FileName = "acl-token";

    public static (string Token, string Source) Resolve(string? tokenFile, string? environmentToken, string dataDir)
    {
        if (!string.IsNullOrEmpty(tokenFile))
        {
            if (!File.Exists(tokenFile))
                throw new InvalidOperationException($"--acl-token-file {tokenFile} does not exist");
            var fromFile = File.ReadAllText(tokenFile).Trim();
            if (fromFile.Length == 0)
                throw new InvalidOperationException($"--acl-token-file {tokenFile} is empty");
            return (fromFile, $"from {Path.GetFullPath(tokenFile)}");
        }

        if (!string.IsNullOrWhiteSpace(environmentToken))
            return (environmentToken.Trim(), "from WEFT_ACL_TOKEN");

        var path = Path.GetFullPath(Path.Combine(dataDir, FileName));
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0) return (existing, $"from {path}");
        }

        Directory.CreateDirectory(dataDir);
        var token = Guid.NewGuid().ToString();
        // Created with 0600 from the start, so the token is never readable by others, not even briefly.
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
            writer.WriteLine(token);
        return (token, $"generated and written to {path} (mode 0600)");
    }

    public static bool Matches(string expected, string? presented) =>
        presented is not null
        && CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(expected),
            System.Text.Encoding.UTF8.GetBytes(presented));
}
