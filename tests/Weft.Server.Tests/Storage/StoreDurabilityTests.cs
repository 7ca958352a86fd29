using Microsoft.Data.Sqlite;
using Weft.Server.Storage;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Storage;

public sealed class StoreDurabilityTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("weft-store-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task Restart_OnTheSameDataDir_BringsBackEverythingAndTheIndexKeepsRising()
    {
        ulong indexBefore;
        string before;
        await using (var server = await RunningServer.StartAsync(dataDir: _dataDir))
        {
            await server.PutOkAsync("/v1/agent/service/register", """{"ID":"a","Name":"api","Port":80,"Tags":["x"],"Check":{"TTL":"1h"}}""");
            await server.PutOkAsync("/v1/agent/check/warn/service:a?note=slow%20disk", "");
            await server.PutOkAsync("/v1/catalog/register", """{"Node":"ext","Address":"10.9.9.9","Service":{"Service":"legacy","Port":9000}}""");
            before = await server.CatalogSnapshotAsync();
            (_, indexBefore) = await server.GetWithIndexAsync("/v1/health/service/api");
        }

        await using (var server = await RunningServer.StartAsync(dataDir: _dataDir))
        {
            Assert.Equal(before, await server.CatalogSnapshotAsync());
            var check = (await server.GetJsonAsync("/v1/agent/checks")).GetProperty("service:a");
            Assert.Equal("warning", check.GetProperty("Status").GetString());
            Assert.Equal("slow disk", check.GetProperty("Output").GetString());
            Assert.Equal(1, (await server.GetJsonAsync("/v1/catalog/service/legacy")).GetArrayLength());

            var (_, indexAfterRestart) = await server.GetWithIndexAsync("/v1/health/service/api");
            Assert.Equal(indexBefore, indexAfterRestart);
            await server.PutOkAsync("/v1/agent/service/register", """{"ID":"b","Name":"api"}""");
            var (_, indexAfterWrite) = await server.GetWithIndexAsync("/v1/health/service/api");
            Assert.True(indexAfterWrite > indexBefore);
        }
    }

    [Fact]
    public async Task GarbageDatabaseFile_FailsStartClearly_AndIsLeftAlone()
    {
        var path = Path.Combine(_dataDir, SqliteStore.FileName);
        var garbage = new byte[8192];
        new Random(7).NextBytes(garbage);
        await File.WriteAllBytesAsync(path, garbage);

        var error = await Assert.ThrowsAsync<StoreOpenException>(() => RunningServer.StartAsync(dataDir: _dataDir));
        Assert.Contains(path, error.Message);
        Assert.Contains("not a Weft store", error.Message);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task AnotherProgramsSqliteDatabase_FailsStartClearly_AndIsLeftAlone()
    {
        var path = Path.Combine(_dataDir, SqliteStore.FileName);
        await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);";
            await command.ExecuteNonQueryAsync();
        }

        var bytes = await File.ReadAllBytesAsync(path);
        var error = await Assert.ThrowsAsync<StoreOpenException>(() => RunningServer.StartAsync(dataDir: _dataDir));
        Assert.Contains("did not create", error.Message);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task DataDirThatIsAFile_FailsStartClearly()
    {
        var file = Path.Combine(_dataDir, "not-a-dir");
        await File.WriteAllTextAsync(file, "x");
        var error = await Assert.ThrowsAsync<StoreOpenException>(() => RunningServer.StartAsync(dataDir: file));
        Assert.Contains("is a file", error.Message);
    }
}
