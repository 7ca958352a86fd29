using System.Text.Json;
using Microsoft.Data.Sqlite;
using Weft.Core.Catalog;
using Weft.Core.Config;

namespace Weft.Server.Storage;

/// <summary>
/// The embedded store: one SQLite database in the data dir, WAL journal, <c>synchronous=FULL</c> so a commit
/// has reached the disk before it is acknowledged. The catalog's index is kept in the same transaction as the
/// rows it versions, so after a crash the index resumes where the last acknowledged write left it.
/// </summary>
internal sealed class SqliteStore : IStore
{
    public const string FileName = "weft.db";

    // 'WEFT' in ASCII: lets us tell our database from any other SQLite file.
    private const int ApplicationId = 0x57454654;
    private const int SchemaVersion = 1;

    private readonly string _path;
    private SqliteConnection? _connection;
    private SqliteCommand? _putNode, _deleteNode, _putService, _deleteService, _putCheck, _deleteCheck, _putTopic, _putIndex, _putEntry, _deleteEntry, _putCaRoot, _deleteCaRoot;

    public SqliteStore(string dataDir)
    {
        _path = Path.GetFullPath(Path.Combine(dataDir, FileName));
    }

    public string Location => _path;

    public Task<CatalogState> LoadAsync(CancellationToken cancellationToken)
    {
        var dir = Path.GetDirectoryName(_path)!;
        if (File.Exists(dir))
            throw new StoreOpenException($"data dir {dir} is a file, not a directory");
        Directory.CreateDirectory(dir);
        var existed = File.Exists(_path) && new FileInfo(_path).Length > 0;
        OwnerOnly(narrowExisting: false);

        try
        {
            _connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = _path,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
            }.ToString());
            _connection.Open();
            if (existed) Verify();
            OwnerOnly(narrowExisting: true);
            Exec("PRAGMA journal_mode=WAL;");
            Exec("PRAGMA synchronous=FULL;");
            if (!existed) CreateSchema();
            // Added after schema 1 shipped: a store from before config entries gains the table on open.
            Exec(ConfigEntriesTable);
            Exec(CaRootsTable);
            PrepareCommands();
            return Task.FromResult(ReadAll());
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 26 /* NOTADB */ or 11 /* CORRUPT */)
        {
            _connection?.Dispose();
            _connection = null;
            throw new StoreOpenException(
                $"{_path} is not a Weft store: it is not a SQLite database or it is corrupt ({e.Message}). " +
                "Move it away or point --data-dir elsewhere; Weft will not overwrite it.", e);
        }
    }

    private void Verify()
    {
        var appId = Convert.ToInt32(Scalar("PRAGMA application_id;"));
        var tables = Convert.ToInt64(Scalar("SELECT count(*) FROM sqlite_master WHERE type='table';"));
        if (appId != ApplicationId && (appId != 0 || tables > 0))
            throw new StoreOpenException(
                $"{_path} is a SQLite database that Weft did not create (application_id {appId:x8}). " +
                "Move it away or point --data-dir elsewhere; Weft will not overwrite it.");

        var version = Convert.ToInt32(Scalar("PRAGMA user_version;"));
        if (version > SchemaVersion)
            throw new StoreOpenException($"{_path} was written by a newer Weft (schema {version}, this one reads {SchemaVersion}).");

        var check = Convert.ToString(Scalar("PRAGMA quick_check;"));
        if (check != "ok")
            throw new StoreOpenException($"{_path} is corrupt: SQLite integrity check says \"{check}\". Restore it from a backup or move it away.");
    }

    private const string ConfigEntriesTable =
        "CREATE TABLE IF NOT EXISTS config_entries (kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, PRIMARY KEY (kind, name));";

    // The certificate authority's roots, signing key included: the reason the database is readable by its owner only.
    private const string CaRootsTable =
        "CREATE TABLE IF NOT EXISTS ca_roots (id TEXT PRIMARY KEY, body TEXT NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL);";

    /// <summary>
    /// Creates the database file with mode 0600 (SQLite gives its WAL and shared-memory files the same mode), and
    /// narrows an existing Weft store once it is known to be one: it holds the CA's private key.
    /// </summary>
    private void OwnerOnly(bool narrowExisting)
    {
        if (OperatingSystem.IsWindows()) return;
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!File.Exists(_path))
        {
            using var created = new FileStream(_path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = ownerOnly });
            return;
        }

        if (!narrowExisting) return;
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            if (File.Exists(file) && (File.GetUnixFileMode(file) & ~ownerOnly) != 0)
                File.SetUnixFileMode(file, ownerOnly);
        }
    }

    private void CreateSchema()
    {
        using var tx = _connection!.BeginTransaction();
        Exec($"""
            PRAGMA application_id = {ApplicationId};
            PRAGMA user_version = {SchemaVersion};
            CREATE TABLE weft_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO weft_meta (key, value) VALUES ('index', 0);
            CREATE TABLE nodes (name TEXT PRIMARY KEY, body TEXT NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL);
            CREATE TABLE services (node TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, PRIMARY KEY (node, id));
            CREATE TABLE checks (node TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, PRIMARY KEY (node, id));
            CREATE TABLE topics (name TEXT PRIMARY KEY, idx INTEGER NOT NULL);
            """, tx);
        tx.Commit();
    }

    private CatalogState ReadAll()
    {
        var index = Convert.ToUInt64(Scalar("SELECT value FROM weft_meta WHERE key='index';"));
        var state = CatalogState.Empty;
        foreach (var (body, create, modify) in Rows("SELECT body, create_index, modify_index FROM nodes;"))
        {
            var node = JsonSerializer.Deserialize(body, StoreJson.Default.NodeRecord)!;
            state = state.Apply(new CatalogChange.NodeUpsert(node), create).Apply(new CatalogChange.NodeUpsert(node), modify);
        }

        foreach (var (body, create, modify) in Rows("SELECT body, create_index, modify_index FROM services;"))
        {
            var service = JsonSerializer.Deserialize(body, StoreJson.Default.ServiceRecord)!;
            state = state.Apply(new CatalogChange.ServiceUpsert(service), create).Apply(new CatalogChange.ServiceUpsert(service), modify);
        }

        foreach (var (body, create, modify) in Rows("SELECT body, create_index, modify_index FROM checks;"))
        {
            var check = JsonSerializer.Deserialize(body, StoreJson.Default.CheckRecord)!;
            state = state.Apply(new CatalogChange.CheckUpsert(check), create).Apply(new CatalogChange.CheckUpsert(check), modify);
        }

        foreach (var (body, create, modify) in Rows("SELECT body, create_index, modify_index FROM config_entries;"))
        {
            var entry = ConfigEntryJson.Parse(System.Text.Encoding.UTF8.GetBytes(body));
            state = state.Apply(new CatalogChange.ConfigEntryUpsert(entry), create).Apply(new CatalogChange.ConfigEntryUpsert(entry), modify);
        }

        foreach (var (body, create, modify) in Rows("SELECT body, create_index, modify_index FROM ca_roots;"))
        {
            var root = JsonSerializer.Deserialize(body, StoreJson.Default.CaRootRecord)!;
            state = state.Apply(new CatalogChange.CaRootUpsert(root), create).Apply(new CatalogChange.CaRootUpsert(root), modify);
        }

        foreach (var (topic, idx, _) in Rows("SELECT name, idx, 0 FROM topics;"))
            state = state.Apply(new CatalogChange.TopicTouch(topic), idx);

        return state with { Index = index };
    }

    public Task<ulong> CommitAsync(IReadOnlyList<CatalogChange> changes, ulong proposedIndex, CancellationToken cancellationToken)
    {
        var connection = _connection ?? throw new InvalidOperationException("store is not open");
        using var tx = connection.BeginTransaction();
        foreach (var change in changes)
        {
            var command = Bind(change, proposedIndex);
            command.Transaction = tx;
            command.ExecuteNonQuery();
        }

        _putIndex!.Transaction = tx;
        _putIndex.Parameters["$index"].Value = (long)proposedIndex;
        _putIndex.ExecuteNonQuery();
        tx.Commit();
        return Task.FromResult(proposedIndex);
    }

    private SqliteCommand Bind(CatalogChange change, ulong index)
    {
        switch (change)
        {
            case CatalogChange.NodeUpsert c:
                return Set(_putNode!, ("$name", c.Node.Name), ("$body", JsonSerializer.Serialize(c.Node, StoreJson.Default.NodeRecord)), ("$index", (long)index));
            case CatalogChange.NodeDelete c:
                return Set(_deleteNode!, ("$name", c.Name));
            case CatalogChange.ServiceUpsert c:
                return Set(_putService!, ("$node", c.Service.Node), ("$id", c.Service.Id), ("$body", JsonSerializer.Serialize(c.Service, StoreJson.Default.ServiceRecord)), ("$index", (long)index));
            case CatalogChange.ServiceDelete c:
                return Set(_deleteService!, ("$node", c.Key.Node), ("$id", c.Key.Id));
            case CatalogChange.CheckUpsert c:
                return Set(_putCheck!, ("$node", c.Check.Node), ("$id", c.Check.Id), ("$body", JsonSerializer.Serialize(c.Check, StoreJson.Default.CheckRecord)), ("$index", (long)index));
            case CatalogChange.CheckDelete c:
                return Set(_deleteCheck!, ("$node", c.Key.Node), ("$id", c.Key.Id));
            case CatalogChange.ConfigEntryUpsert c:
                return Set(_putEntry!, ("$kind", c.Entry.Kind), ("$name", c.Entry.Name), ("$body", System.Text.Encoding.UTF8.GetString(ConfigEntryJson.Serialize(c.Entry with { CreateIndex = 0, ModifyIndex = 0 }))), ("$index", (long)index));
            case CatalogChange.ConfigEntryDelete c:
                return Set(_deleteEntry!, ("$kind", c.Kind), ("$name", c.Name));
            case CatalogChange.CaRootUpsert c:
                return Set(_putCaRoot!, ("$id", c.Root.Id), ("$body", JsonSerializer.Serialize(c.Root with { CreateIndex = 0, ModifyIndex = 0 }, StoreJson.Default.CaRootRecord)), ("$index", (long)index));
            case CatalogChange.CaRootDelete c:
                return Set(_deleteCaRoot!, ("$id", c.Id));
            case CatalogChange.TopicTouch c:
                return Set(_putTopic!, ("$name", c.Topic), ("$index", (long)index));
            default:
                throw new ArgumentOutOfRangeException(nameof(change));
        }
    }

    private static SqliteCommand Set(SqliteCommand command, params (string Name, object Value)[] values)
    {
        foreach (var (name, value) in values)
            command.Parameters[name].Value = value;
        return command;
    }

    private void PrepareCommands()
    {
        const string upsert = "ON CONFLICT DO UPDATE SET body = excluded.body, modify_index = excluded.modify_index";
        _putNode = Prepare($"INSERT INTO nodes (name, body, create_index, modify_index) VALUES ($name, $body, $index, $index) {upsert};", "$name", "$body", "$index");
        _deleteNode = Prepare("DELETE FROM nodes WHERE name = $name;", "$name");
        _putService = Prepare($"INSERT INTO services (node, id, body, create_index, modify_index) VALUES ($node, $id, $body, $index, $index) {upsert};", "$node", "$id", "$body", "$index");
        _deleteService = Prepare("DELETE FROM services WHERE node = $node AND id = $id;", "$node", "$id");
        _putCheck = Prepare($"INSERT INTO checks (node, id, body, create_index, modify_index) VALUES ($node, $id, $body, $index, $index) {upsert};", "$node", "$id", "$body", "$index");
        _deleteCheck = Prepare("DELETE FROM checks WHERE node = $node AND id = $id;", "$node", "$id");
        _putTopic = Prepare("INSERT INTO topics (name, idx) VALUES ($name, $index) ON CONFLICT DO UPDATE SET idx = excluded.idx;", "$name", "$index");
        _putEntry = Prepare($"INSERT INTO config_entries (kind, name, body, create_index, modify_index) VALUES ($kind, $name, $body, $index, $index) {upsert};", "$kind", "$name", "$body", "$index");
        _deleteEntry = Prepare("DELETE FROM config_entries WHERE kind = $kind AND name = $name;", "$kind", "$name");
        _putCaRoot = Prepare($"INSERT INTO ca_roots (id, body, create_index, modify_index) VALUES ($id, $body, $index, $index) {upsert};", "$id", "$body", "$index");
        _deleteCaRoot = Prepare("DELETE FROM ca_roots WHERE id = $id;", "$id");
        _putIndex = Prepare("UPDATE weft_meta SET value = $index WHERE key = 'index';", "$index");
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection!.CreateCommand();
        command.CommandText = sql;
        foreach (var p in parameters)
            command.Parameters.Add(new SqliteParameter(p, null));
        return command;
    }

    private void Exec(string sql, SqliteTransaction? tx = null)
    {
        using var command = _connection!.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        command.ExecuteNonQuery();
    }

    private object? Scalar(string sql)
    {
        using var command = _connection!.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private IEnumerable<(string Text, ulong A, ulong B)> Rows(string sql)
    {
        using var command = _connection!.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        while (reader.Read())
            yield return (reader.GetString(0), (ulong)reader.GetInt64(1), (ulong)reader.GetInt64(2));
    }

    public ValueTask DisposeAsync()
    {
        foreach (var command in new[] { _putNode, _deleteNode, _putService, _deleteService, _putCheck, _deleteCheck, _putTopic, _putIndex, _putEntry, _deleteEntry, _putCaRoot, _deleteCaRoot })
            command?.Dispose();
        _connection?.Dispose();
        _connection = null;
        return ValueTask.CompletedTask;
    }
}
