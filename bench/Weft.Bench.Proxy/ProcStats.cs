using System.Globalization;

namespace Weft.Bench.Proxy;

/// <summary>What Linux says about processes: CPU ticks, resident memory, children, and the machine's busy time.</summary>
internal static class ProcStats
{
    // USER_HZ: fixed at 100 on every Linux ABI .NET runs on.
    public const double TicksPerSecond = 100;

    /// <summary>utime+stime summed over <paramref name="pids"/>, in clock ticks; a process gone counts 0.</summary>
    public static long CpuTicks(IEnumerable<int> pids) => pids.Sum(pid => Read($"/proc/{pid}/stat") is { } stat ? TicksOf(stat) : 0);

    /// <summary>VmRSS summed over <paramref name="pids"/>, in KiB.</summary>
    public static long RssKiB(IEnumerable<int> pids)
    {
        long total = 0;
        foreach (var pid in pids)
        {
            if (Read($"/proc/{pid}/status") is not { } status) continue;
            foreach (var line in status.Split('\n'))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    total += long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    /// <summary><paramref name="pid"/> and its direct children (nginx's master and its workers).</summary>
    public static List<int> WithChildren(int pid)
    {
        var family = new List<int> { pid };
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var candidate) || candidate == pid) continue;
            if (Read(Path.Combine(dir, "stat")) is not { } stat) continue;
            // Field 4, the parent's PID, is the second field after the parenthesised name.
            var ppid = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1];
            if (ppid == pid.ToString(CultureInfo.InvariantCulture)) family.Add(candidate);
        }

        return family;
    }

    /// <summary>Busy and total jiffies of the whole machine (all cores), from /proc/stat.</summary>
    public static (long Busy, long Total) MachineTicks()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = cpu.Take(8).Sum(); // user nice system idle iowait irq softirq steal; guest is inside user.
        return (total - cpu[3] - cpu[4], total);
    }

    private static long TicksOf(string stat)
    {
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // The process exited between listing and reading.
        }
    }
}
