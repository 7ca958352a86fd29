using System.Globalization;

namespace Weft.Bench.Registry;

/// <summary>What Linux says about a process: CPU ticks, resident memory, per-thread CPU, loopback sockets.</summary>
internal static class ProcStats
{
    // USER_HZ: fixed at 100 on every Linux ABI .NET runs on.
    public const double TicksPerSecond = 100;

    /// <summary>utime+stime of the whole process, in clock ticks.</summary>
    public static long CpuTicks(int pid) => TicksOf(File.ReadAllText($"/proc/{pid}/stat"));

    public static long RssKiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }

        return 0;
    }

    /// <summary>CPU ticks per thread id, with the thread's name.</summary>
    public static Dictionary<int, (string Name, long Ticks)> ThreadTicks(int pid)
    {
        var result = new Dictionary<int, (string, long)>();
        foreach (var dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                result[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] = (name, TicksOf(stat));
            }
            catch (IOException)
            {
                // The thread exited between listing and reading.
            }
        }

        return result;
    }

    /// <summary>Busiest thread groups (by name) between two snapshots, as % of one core.</summary>
    public static List<(string Name, int Threads, double CpuPercent)> TopThreads(
        Dictionary<int, (string Name, long Ticks)> before, Dictionary<int, (string Name, long Ticks)> after, double seconds, int top)
    {
        return after
            .Select(t => (t.Value.Name, Delta: t.Value.Ticks - (before.TryGetValue(t.Key, out var b) ? b.Ticks : 0)))
            .GroupBy(t => t.Name)
            .Select(g => (g.Key, g.Count(), g.Sum(t => t.Delta) / TicksPerSecond / seconds * 100))
            .OrderByDescending(g => g.Item3)
            .Take(top)
            .ToList();
    }

    private static long TicksOf(string stat)
    {
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Established loopback TCP sockets to <paramref name="serverPort"/>: how many client sides have nothing left
    /// unsent or unacknowledged, and how many server sides have nothing left unread by the server.
    /// </summary>
    public static (int ClientsFlushed, int ServerSidesDrained, int ServerSides) Sockets(int serverPort)
    {
        int clientsFlushed = 0, drained = 0, serverSides = 0;
        // Dual-mode client sockets show up in tcp6 as ::ffff:127.0.0.1.
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1).Concat(File.ReadLines("/proc/net/tcp6").Skip(1)))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 5 || f[3] != "01") continue;
            var local = int.Parse(f[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var remote = int.Parse(f[2].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var queues = f[4].Split(':');
            var tx = long.Parse(queues[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var rx = long.Parse(queues[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (remote == serverPort && tx == 0) clientsFlushed++;
            if (local == serverPort)
            {
                serverSides++;
                if (rx == 0) drained++;
            }
        }

        return (clientsFlushed, drained, serverSides);
    }
}
