using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Weft.EndToEnd.Mesh;

/// <summary><c>weft dev</c>, the README's first command, as a user runs it.</summary>
public sealed partial class DevCommandTests
{
    [Fact]
    public async Task WeftDev_RunsTheDemoMesh_KeepsCallersGreen_AndStopsOnCtrlC()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "weft.dll"), "dev", "--http-addr", "127.0.0.1:0" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Text()
        {
            lock (output) return output.ToString();
        }

        try
        {
            // Green: some window in which the load generator saw at least 99% success at full load.
            await MeshFixture.WaitUntilAsync(() =>
            {
                if (process.HasExited) Assert.Fail($"weft dev exited with {process.ExitCode}:\n{Text()}");
                return Task.FromResult(LoadLine().Matches(Text()).Any(m =>
                    double.Parse(m.Groups["rate"].Value) >= 40 && double.Parse(m.Groups["ok"].Value) >= 99));
            }, "the load generator reports a green window", TimeSpan.FromSeconds(90));

            // The demo's story: payments-2 fails one request in five, so payments' instances answer visibly less than
            // 100% of what they are sent, yet its callers, retrying on the other instance, see 100%; and soon outlier
            // detection ejects payments-2 (which needs it to be sent enough requests to fail three in a row).
            await MeshFixture.WaitUntilAsync(() =>
            {
                if (process.HasExited) Assert.Fail($"weft dev exited with {process.ExitCode}:\n{Text()}");
                var windows = PaymentsLine().Matches(Text());
                return Task.FromResult(
                    windows.Any(m => double.Parse(m.Groups["answered"].Value) <= 95 && double.Parse(m.Groups["seen"].Value) == 100 && int.Parse(m.Groups["retries"].Value) > 0)
                    && windows.Any(m => int.Parse(m.Groups["ejected"].Value) > 0));
            }, "a window in which payments answered at most 95% and its callers saw 100% after retries, and one with payments-2 ejected", TimeSpan.FromSeconds(60));

            var text = Text();
            Assert.Contains("frontend -> orders -> payments", text);
            Assert.Matches(@"payments\s+\d", text);
            var dashboard = Regex.Match(text, @"dashboard\s+(?<url>http://127\.0\.0\.1:\d+/ui/)");
            Assert.True(dashboard.Success, $"no dashboard URL in:\n{text}");
            Assert.Contains("./weft top", text);
            Assert.Contains("./weft stat orders", text);
            Assert.Contains("./weft check", text);
            using (var http = new HttpClient())
            {
                var page = await http.GetStringAsync(dashboard.Groups["url"].Value);
                Assert.Contains("data-testid=\"services\"", page);
            }

            using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await interrupt.WaitForExitAsync();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(deadline.Token);
            Assert.True(process.ExitCode == 0, Text());
            Assert.Contains("weft dev: stopped", Text());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [GeneratedRegex(@"load generator → frontend: (?<rate>[\d.]+) req/s, (?<ok>[\d.]+)% succeeded")]
    private static partial Regex LoadLine();

    // "payments      55.5    86.5%     ≤1ms     ≤5ms |    48.0   100.0%     ≤1ms   ≤100ms       15        0"
    [GeneratedRegex(@"^payments\s+[\d.]+\s+(?<answered>[\d.]+)%\s+\S+\s+\S+\s+\|\s+[\d.]+\s+(?<seen>[\d.]+)%\s+\S+\s+\S+\s+(?<retries>\d+)\s+(?<ejected>\d+)", RegexOptions.Multiline)]
    private static partial Regex PaymentsLine();
}
