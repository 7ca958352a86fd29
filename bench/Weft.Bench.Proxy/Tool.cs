using System.Diagnostics;

namespace Weft.Bench.Proxy;

/// <summary>A load tool (wrk, h2load) run to completion with its output captured, killed if it overruns.</summary>
internal static class Tool
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, string workDir, TimeSpan deadline)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        File.AppendAllText(Path.Combine(workDir, "pids"), $"{process.Id}\n");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"{file} ran past its {deadline.TotalSeconds} s deadline");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
