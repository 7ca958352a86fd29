using Weft.Server.Acl;
using Weft.Server.Tests.Ca;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Security;

/// <summary>
/// The data dir holds the CA's private key (in the store) and may hold the management token: every file the server
/// writes there is readable by its owner only, the SQLite WAL and shared-memory files included.
/// </summary>
public sealed class KeyMaterialOnDiskTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task EveryFileInTheDataDir_IsMode0600_WhileRunningAndAfterARestart()
    {
        var dataDir = Directory.CreateTempSubdirectory("weft-keys-").FullName;
        try
        {
            // As `weft server` does without --acl-token-file or WEFT_ACL_TOKEN: the token is generated into the data dir.
            AclToken.Resolve(null, null, dataDir);
            await using (var server = await RunningServer.StartAsync(dataDir))
            {
                await server.PutOkAsync("/v1/agent/service/register", """{"Name":"web","Port":80}""");
                await CaTestKit.SignAsync(server, "web");
                await server.PutOkAsync("/v1/connect/ca/configuration", """{"Config":{"RotateRoot":true}}""");
                AssertOwnerOnly(dataDir, expectWal: true);
            }

            await using (var restarted = await RunningServer.StartAsync(dataDir))
            {
                await restarted.PutOkAsync("/v1/agent/service/register", """{"Name":"api","Port":81}""");
                AssertOwnerOnly(dataDir, expectWal: true);
            }

            AssertOwnerOnly(dataDir, expectWal: false);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static void AssertOwnerOnly(string dataDir, bool expectWal)
    {
        var files = Directory.GetFiles(dataDir, "*", SearchOption.AllDirectories);
        var names = files.Select(Path.GetFileName).ToList();
        Assert.Contains("weft.db", names);
        Assert.Contains(AclToken.FileName, names);
        if (expectWal)
        {
            Assert.Contains("weft.db-wal", names);
            Assert.Contains("weft.db-shm", names);
        }

        foreach (var file in files)
            Assert.True(File.GetUnixFileMode(file) == OwnerOnly, $"{Path.GetFileName(file)} is {File.GetUnixFileMode(file)}, not owner read/write only");
    }
}
