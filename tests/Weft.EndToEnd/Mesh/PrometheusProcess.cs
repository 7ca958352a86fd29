using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// Debian's Prometheus, started by a test with a config that has only an <c>http_sd_configs</c> job, its TSDB, lock and
/// query log in a temp dir, on a free loopback port; stopped by its pid.
/// </summary>
internal sealed class PrometheusProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly StringBuilder _output = new();

    private PrometheusProcess(Process process, string dir, Uri address)
    {
        _process = process;
        _dir = dir;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri Address { get; }
    public HttpClient Http { get; }

    public static async Task<PrometheusProcess> StartAsync(Uri sdUrl)
    {
        var dir = Directory.CreateTempSubdirectory("weft-prometheus-").FullName;
        var port = FreePort();
        var config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: weft
                honor_labels: true
                http_sd_configs:
                  - url: {sdUrl}
                    refresh_interval: 1s
            """);
        var start = new ProcessStartInfo("/usr/bin/prometheus",
        [
            $"--config.file={config}",
            $"--storage.tsdb.path={Path.Combine(dir, "data")}",
            $"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ])
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
        var prometheus = new PrometheusProcess(process, dir, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => prometheus.Log(e.Data);
        process.ErrorDataReceived += (_, e) => prometheus.Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await prometheus.WaitUntilAsync(async () =>
        {
            try
            {
                using var ready = await prometheus.Http.GetAsync("/-/ready");
                return ready.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "prometheus is ready");
        return prometheus;
    }

    /// <summary>The value of an instant PromQL query that yields one series; null while it yields none.</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        using var response = await Http.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"query {promql}: {(int)response.StatusCode} {body}");
        using var json = JsonDocument.Parse(body);
        var result = json.RootElement.GetProperty("data").GetProperty("result");
        if (result.GetArrayLength() == 0)
            return null;
        Assert.True(result.GetArrayLength() == 1, $"query {promql} gave {result.GetArrayLength()} series: {body}");
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }

    public async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            if (_process.HasExited)
                Assert.Fail($"prometheus exited ({_process.ExitCode}) before {what}: {Output}");
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting until {what}; prometheus said: {Output}");
            await Task.Delay(100);
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            using var victim = Process.GetProcessById(_process.Id);
            victim.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Log(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            if (_output.Length < 16_000)
                _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
