using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Weft.Bench.Registry;

/// <summary>
/// What the disk allows: one writer inserting service-sized rows into SQLite (WAL, synchronous=FULL) in the
/// same work dir as the server's data, committing every <c>batch</c> rows, and bumping an index row per commit
/// as the server does.
/// </summary>
internal static class RawSqlite
{
    public static (int Rows, double Seconds) Run(string dir, int batch, int maxRows, TimeSpan cap)
    {
        var path = Path.Combine(dir, $"raw-{batch}-{Guid.NewGuid():N}.db");
        try
        {
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            Exec(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
            Exec(connection, """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT INTO meta VALUES ('index', 0);
                CREATE TABLE services (node TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, PRIMARY KEY (node, id));
                """);
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO services VALUES ('bench', $id, $body, $index, $index);";
            var id = insert.Parameters.Add("$id", SqliteType.Text);
            var body = insert.Parameters.Add("$body", SqliteType.Text);
            var index = insert.Parameters.Add("$index", SqliteType.Integer);
            using var bump = connection.CreateCommand();
            bump.CommandText = "UPDATE meta SET value = $index WHERE key = 'index';";
            var bumpIndex = bump.Parameters.Add("$index", SqliteType.Integer);

            var started = Stopwatch.GetTimestamp();
            var until = started + (long)(cap.TotalSeconds * Stopwatch.Frequency);
            var rows = 0;
            for (long commit = 1; rows < maxRows && Stopwatch.GetTimestamp() < until; commit++)
            {
                using var tx = connection.BeginTransaction();
                insert.Transaction = tx;
                bump.Transaction = tx;
                for (var i = 0; i < batch && rows < maxRows; i++, rows++)
                {
                    id.Value = $"svc-{rows}";
                    body.Value = $$$"""{"Node":"bench","Id":"svc-{{{rows}}}","Name":"reg-{{{rows % 100}}}","Tags":[],"Address":"127.0.0.1","Port":{{{8000 + rows % 1000}}},"Meta":{},"Weights":{"Passing":1,"Warning":1}}""";
                    index.Value = commit;
                    insert.ExecuteNonQuery();
                }

                bumpIndex.Value = commit;
                bump.ExecuteNonQuery();
                tx.Commit();
            }

            return (rows, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
                File.Delete(path + suffix);
        }
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
