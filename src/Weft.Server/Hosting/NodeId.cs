namespace Weft.Server.Hosting;

/// <summary>A node's ID is made once per data dir and kept, as Consul keeps its node-id file.</summary>
internal static class NodeId
{
    public const string FileName = "node-id";

    public static string LoadOrCreate(string dataDir)
    {
        if (File.Exists(dataDir))
            throw new Storage.StoreOpenException($"data dir {Path.GetFullPath(dataDir)} is a file, not a directory");
        Directory.CreateDirectory(dataDir);
        var path = Path.Combine(dataDir, FileName);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            if (Guid.TryParse(text, out _)) return text;
            throw new Storage.StoreOpenException($"{Path.GetFullPath(path)} does not hold a node ID (a UUID); move it away or fix it");
        }

        var id = Guid.NewGuid().ToString();
        // Not a secret, but owner-only as Consul writes it, so that everything in the data dir is.
        File.WriteAllText(path, id + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return id;
    }
}
