using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Weft.EndToEnd.Cli;

/// <summary>
/// A real <c>weft server</c>, started from the weft.dll built next to the tests, on a loopback
/// port the OS picks (read back from what the server prints, so a port another test's server
/// took in the meantime can never be mistaken for this one's), with its own data directory.
/// Killed by its process id on dispose.
/// </summary>
internal sealed class WeftServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(90);

    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private readonly bool _ownsDataDir;

    private WeftServerProcess(Process process, string dataDir, bool ownsDataDir)
    {
        _process = process;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
    }

    /// <summary>host:port, the form an operator puts in WEFT_HTTP_ADDR.</summary>
    public string Address { get; private set; } = "";

    public string DataDir { get; }

    /// <summary>What the server printed so far; attached to failures to explain them.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <param name="open">True for <c>--dev-open</c> (no ACLs); false for the default, token-protected mode.</param>
    /// <param name="dataDir">An existing data dir to reuse (kept on dispose); null for a fresh temp one.</param>
    /// <param name="extraArgs">More <c>weft server</c> arguments.</param>
    public static async Task<WeftServerProcess> StartAsync(bool open, string? dataDir = null, params string[] extraArgs)
    {
        var owns = dataDir is null;
        dataDir ??= Directory.CreateTempSubdirectory("weft-e2e-").FullName;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "weft.dll"));
        start.ArgumentList.Add("server");
        if (open)
            start.ArgumentList.Add("--dev-open");
        start.ArgumentList.Add("--http-addr");
        start.ArgumentList.Add("127.0.0.1:0");
        // Free ports for the proxy stream too, so servers of parallel tests do not fight over 8502.
        start.ArgumentList.Add("--grpc-addr");
        start.ArgumentList.Add("127.0.0.1:0");
        start.ArgumentList.Add("--data-dir");
        start.ArgumentList.Add(dataDir);
        foreach (var arg in extraArgs)
            start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // The server takes its token from WEFT_ACL_TOKEN when set; the tests want the one it
        // generates in its data dir, whatever the developer's shell exports.
        start.Environment.Remove("WEFT_ACL_TOKEN");
        start.Environment.Remove("WEFT_HTTP_ADDR");

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var server = new WeftServerProcess(process, dataDir, owns);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilAnsweringAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (!_ownsDataDir)
            return;
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test run over.
        }
    }

    /// <summary>SIGKILL, as <c>kill -9</c>: no shutdown code runs.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as a service manager sends; returns the exit code once the process has exited.</summary>
    public async Task<int> TerminateAsync(TimeSpan deadline)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(deadline);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_log)
            _log.AppendLine(line);
    }

    /// <summary>Polls <c>/v1/status/leader</c> until it answers; any HTTP answer means the API is up.</summary>
    private async Task WaitUntilAnsweringAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartupDeadline)
        {
            if (_process.HasExited)
            {
                // HasExited can turn true before the async readers have seen the last lines;
                // WaitForExitAsync also waits for both redirected streams to reach end of file.
                using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(drain.Token);
                throw new InvalidOperationException($"weft server exited with {_process.ExitCode} before answering:\n{Log}");
            }
            if (Address.Length == 0)
            {
                // The server prints where it listens once it has bound: "  HTTP API:    http://127.0.0.1:PORT".
                var match = System.Text.RegularExpressions.Regex.Match(Log, @"HTTP API:\s+http://(\S+)");
                if (!match.Success)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100));
                    continue;
                }

                Address = match.Groups[1].Value.TrimEnd('/');
            }

            try
            {
                using var response = await http.GetAsync($"http://{Address}/v1/status/leader");
                if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                    return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Listening but slow; try again within the deadline.
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
        throw new TimeoutException($"weft server did not answer on {Address} within {StartupDeadline}:\n{Log}");
    }

}
