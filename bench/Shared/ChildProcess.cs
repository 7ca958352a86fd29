using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Weft.Bench;

/// <summary>
/// A process this bench started. Its PID goes into the work dir's <c>pids</c> file at once, so run.sh can stop
/// it even if the bench dies; the bench itself stops it by PID (SIGTERM, then SIGKILL after a deadline).
/// </summary>
internal sealed partial class ChildProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly string _name;
    private readonly string _logPath;

    private ChildProcess(Process process, string name, string logPath)
    {
        _process = process;
        _name = name;
        _logPath = logPath;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <param name="environment">Variables set for this process only (e.g. runtime knobs such as DOTNET_GCgen0size).</param>
    public static ChildProcess Start(string name, string file, IEnumerable<string> args, string workDir, string logPath,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        File.AppendAllText(Path.Combine(workDir, "pids"), $"{process.Id}\n");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(process, name, logPath);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process.HasExited) return;
        _ = Kill(_process.Id, SigTerm);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"{_name} (pid {_process.Id}) ignored SIGTERM for 10 s; killing it");
            _process.Kill();
        }

        _process.Dispose();
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls <paramref name="ready"/> until it holds, the process dies, or the deadline passes.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> ready, TimeSpan deadline, string what)
    {
        var until = Stopwatch.GetTimestamp() + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        for (var attempt = 0; attempt < 10_000; attempt++)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // Lets the output handlers write the last lines to the log.
                var tail = File.Exists(_logPath) ? string.Join(Environment.NewLine, File.ReadLines(_logPath).TakeLast(10)) : "";
                throw new InvalidOperationException($"{_name} exited (code {_process.ExitCode}) before {what}:{Environment.NewLine}{tail}");
            }

            try
            {
                if (await ready()) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (Stopwatch.GetTimestamp() > until) break;
            await Task.Delay(50);
        }

        throw new TimeoutException($"{_name}: no {what} within {deadline.TotalSeconds} s");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
