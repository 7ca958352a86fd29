using System.Net;
using Microsoft.Data.Sqlite;
using Weft.Server.Storage;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Api;

public sealed class ConfigApiTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private const string WebDefaults = """{"Kind":"service-defaults","Name":"web","Protocol":"http2"}""";

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json);
        using var response = await _server.Http.SendAsync(request);
        return (response.StatusCode, (await response.Content.ReadAsStringAsync()).Trim());
    }

    [Fact]
    public async Task Put_ThenGet_ReturnsTheEntryWithIndexes()
    {
        Assert.Equal((HttpStatusCode.OK, "true"), await SendAsync(HttpMethod.Put, "/v1/config", WebDefaults));
        var (entry, index) = await _server.GetWithIndexAsync("/v1/config/service-defaults/web");
        Assert.Equal("service-defaults", entry.GetProperty("Kind").GetString());
        Assert.Equal("http2", entry.GetProperty("Protocol").GetString());
        Assert.Equal(index, entry.GetProperty("ModifyIndex").GetUInt64());
        Assert.True(entry.GetProperty("CreateIndex").GetUInt64() > 0);
    }

    [Fact]
    public async Task Get_Missing_Is404WithConsulsMessage()
    {
        var (status, body) = await SendAsync(HttpMethod.Get, "/v1/config/service-router/nope");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("Config entry not found for \"service-router\" / \"nope\"", body);
    }

    [Fact]
    public async Task List_ReturnsTheKindsEntriesInNameOrder()
    {
        await _server.PutOkAsync("/v1/config", WebDefaults);
        await _server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"api","Protocol":"grpc"}""");
        await _server.PutOkAsync("/v1/config", """{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":100}]}""");
        var list = await _server.GetJsonAsync("/v1/config/service-defaults");
        Assert.Equal(["api", "web"], list.EnumerateArray().Select(e => e.GetProperty("Name").GetString()));
        Assert.Equal(0, (await _server.GetJsonAsync("/v1/config/service-resolver")).GetArrayLength());
    }

    [Fact]
    public async Task Delete_RemovesIt_AndAnswersAnEmptyObject()
    {
        await _server.PutOkAsync("/v1/config", WebDefaults);
        Assert.Equal((HttpStatusCode.OK, "{}"), await SendAsync(HttpMethod.Delete, "/v1/config/service-defaults/web"));
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/config/service-defaults/web")).Status);
    }

    [Fact]
    public async Task Cas_ZeroCreatesOnly_AndNReplacesOnlyAtN()
    {
        Assert.Equal("true", (await SendAsync(HttpMethod.Put, "/v1/config?cas=0", WebDefaults)).Body);
        Assert.Equal("false", (await SendAsync(HttpMethod.Put, "/v1/config?cas=0", WebDefaults)).Body);
        var modify = (await _server.GetJsonAsync("/v1/config/service-defaults/web")).GetProperty("ModifyIndex").GetUInt64();
        var changed = """{"Kind":"service-defaults","Name":"web","Protocol":"grpc"}""";
        Assert.Equal("false", (await SendAsync(HttpMethod.Put, $"/v1/config?cas={modify + 100}", changed)).Body);
        Assert.Equal("true", (await SendAsync(HttpMethod.Put, $"/v1/config?cas={modify}", changed)).Body);
        Assert.Equal("grpc", (await _server.GetJsonAsync("/v1/config/service-defaults/web")).GetProperty("Protocol").GetString());
        Assert.Equal("false", (await SendAsync(HttpMethod.Delete, $"/v1/config/service-defaults/web?cas={modify}")).Body);
    }

    [Fact]
    public async Task RewritingTheSameEntry_ChangesNoIndex()
    {
        await _server.PutOkAsync("/v1/config", WebDefaults);
        var (_, before) = await _server.GetWithIndexAsync("/v1/config/service-defaults/web");
        await _server.PutOkAsync("/v1/config", WebDefaults);
        var (entry, after) = await _server.GetWithIndexAsync("/v1/config/service-defaults/web");
        Assert.Equal(before, after);
        Assert.Equal(before, entry.GetProperty("ModifyIndex").GetUInt64());
    }

    [Fact]
    public async Task BlockingGet_WakesOnAWriteToThatEntry()
    {
        await _server.PutOkAsync("/v1/config", WebDefaults);
        var (_, index) = await _server.GetWithIndexAsync("/v1/config/service-defaults/web");
        var blocked = _server.GetWithIndexAsync($"/v1/config/service-defaults/web?index={index}&wait=30s");
        await _server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"other"}""");
        Assert.False(blocked.IsCompleted);
        await _server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"web","Protocol":"tcp"}""");
        var (entry, woke) = await blocked.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(woke > index);
        Assert.Equal("tcp", entry.GetProperty("Protocol").GetString());
    }

    [Theory]
    [InlineData("""{"Kind":"service-widget","Name":"web"}""", "unknown Kind \"service-widget\"")]
    [InlineData("""{"Kind":"service-defaults"}""", "Name is required")]
    [InlineData("""{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":60},{"Weight":30}]}""", "must sum to 100")]
    [InlineData("""{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathRegex":"[a-"}}}]}""", "not a valid regular expression")]
    [InlineData("""{"Kind":"service-resolver","Name":"web","LoadBalancer":{"Policy":"fastest"}}""", "LoadBalancer.Policy")]
    [InlineData("""{"Kind":"service-resolver","Name":"web","ConnectTimeout":"-5s"}""", "ConnectTimeout must not be negative")]
    [InlineData("""{"Kind":"service-defaults","Name":"web","UpstreamConfig":{"Defaults":{"Limits":{"MaxPendingRequests":-1}}}}""", "MaxPendingRequests must not be negative")]
    [InlineData("""{"Kind":"service-defaults","Name":"web","Protocol":"smtp"}""", "Protocol \"smtp\"")]
    [InlineData("""{"Kind":"service-defaults","Name":"web",""", "Request decode failed")]
    public async Task BadEntry_Is400SayingWhy_AndNothingIsStored(string json, string expected)
    {
        var (_, before) = await _server.GetWithIndexAsync("/v1/config/service-defaults");
        var (status, body) = await SendAsync(HttpMethod.Put, "/v1/config", json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(expected, body);
        Assert.DoesNotContain('\n', body);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/config/service-defaults/web")).Status);
        Assert.Equal(before, (await _server.GetWithIndexAsync("/v1/config/service-defaults")).Index);
    }

    [Theory]
    [InlineData("""{"Kind":"service-\xFF"}""")]
    [InlineData("""{"Ki\xC0nd":"service-defaults","Name":"web"}""")]
    [InlineData("""{"Kind":"service-defaults","Name":"w\xED\xA0\x80b"}""")]
    public async Task BodyThatIsNotUtf8_Is400_Not500(string escaped)
    {
        // Found by the fuzz run: reading Kind threw InvalidOperationException, which answered 500.
        var parts = escaped.Split("\\x");
        var bytes = new List<byte>(System.Text.Encoding.UTF8.GetBytes(parts[0]));
        foreach (var part in parts[1..])
        {
            bytes.Add(Convert.ToByte(part[..2], 16));
            bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(part[2..]));
        }

        using var response = await _server.Http.PutAsync("/v1/config", new ByteArrayContent([.. bytes]));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid UTF-8", body);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/config/service-defaults/web")).Status);
    }

    [Fact]
    public async Task UnknownKindInPath_Is400()
    {
        var (status, body) = await SendAsync(HttpMethod.Get, "/v1/config/widgets");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("invalid config entry kind: widgets", body);
    }

    [Fact]
    public async Task WithoutAToken_Is403()
    {
        using var anonymous = new HttpClient { BaseAddress = _server.Server.HttpAddress };
        using var response = await anonymous.GetAsync("/v1/config/service-defaults");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}

public sealed class ConfigEntryDurabilityTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("weft-config-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task Entries_SurviveARestart_WithTheirIndexes_AndDeletesToo()
    {
        string before;
        await using (var server = await RunningServer.StartAsync(dataDir: _dataDir))
        {
            await server.PutOkAsync("/v1/config", """{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/api"}},"Destination":{"Service":"api","NumRetries":3,"RetryOn":["5xx"],"RequestTimeout":"1.5s"}}]}""");
            await server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"gone"}""");
            using var deleted = await server.Http.DeleteAsync("/v1/config/service-defaults/gone");
            before = (await server.GetJsonAsync("/v1/config/service-router/web")).GetRawText();
        }

        await using (var server = await RunningServer.StartAsync(dataDir: _dataDir))
        {
            Assert.Equal(before, (await server.GetJsonAsync("/v1/config/service-router/web")).GetRawText());
            Assert.Equal(0, (await server.GetJsonAsync("/v1/config/service-defaults")).GetArrayLength());
        }
    }

    [Fact]
    public async Task AStoreFromBeforeConfigEntries_GainsTheTableOnOpen()
    {
        await using (await RunningServer.StartAsync(dataDir: _dataDir))
        {
        }

        await using (var db = new SqliteConnection($"Data Source={Path.Combine(_dataDir, SqliteStore.FileName)};Pooling=false"))
        {
            db.Open();
            using var drop = db.CreateCommand();
            drop.CommandText = "DROP TABLE config_entries;";
            drop.ExecuteNonQuery();
        }

        await using var server = await RunningServer.StartAsync(dataDir: _dataDir);
        await server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"web"}""");
        Assert.Equal(1, (await server.GetJsonAsync("/v1/config/service-defaults")).GetArrayLength());
    }
}
