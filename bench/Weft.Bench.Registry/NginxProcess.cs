using System.Net;

namespace Weft.Bench.Registry;

/// <summary>
/// nginx on a free loopback port from a temp config: serves a fixed body at the read path (the reference for
/// reads) and a tiny 200 at <c>/health</c> (the check target), logging only <c>/health</c> so checks can be counted.
/// </summary>
internal sealed class NginxProcess : IAsyncDisposable
{
    public const string ReadPath = "/v1/health/service/read-target";
    private readonly ChildProcess _process;
    private readonly string _healthLog;

    private NginxProcess(ChildProcess process, int port, string healthLog)
    {
        _process = process;
        _healthLog = healthLog;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _process.Pid;

    public static async Task<NginxProcess> StartAsync(BenchContext ctx, byte[] readBody)
    {
        var root = Directory.CreateDirectory(Path.Combine(ctx.WorkDir, "nginx")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "tmp"));
        var bodyFile = Path.Combine(root, "body.json");
        await File.WriteAllBytesAsync(bodyFile, readBody);
        var healthLog = Path.Combine(root, "health.log");
        var port = ChildProcess.FreeLoopbackPort();
        var config = Path.Combine(root, "nginx.conf");
        // Root keeps the workers' user: the temp dir is private to us. Two workers to match the two cores.
        await File.WriteAllTextAsync(config, $$"""
            {{(Environment.UserName == "root" ? "user root;" : "")}}
            worker_processes 2;
            daemon off;
            pid {{root}}/nginx.pid;
            error_log {{root}}/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path {{root}}/tmp/body;
                proxy_temp_path {{root}}/tmp/proxy;
                fastcgi_temp_path {{root}}/tmp/fastcgi;
                uwsgi_temp_path {{root}}/tmp/uwsgi;
                scgi_temp_path {{root}}/tmp/scgi;
                server {
                    listen 127.0.0.1:{{port}};
                    location = {{ReadPath}} {
                        default_type application/json;
                        alias {{bodyFile}};
                    }
                    location = /health {
                        access_log {{healthLog}};
                        default_type text/plain;
                        return 200 "ok";
                    }
                }
            }
            """);
        var process = ChildProcess.Start("nginx", "nginx", ["-p", root + "/", "-c", config, "-e", Path.Combine(root, "error.log")],
            ctx.WorkDir, Path.Combine(ctx.WorkDir, "nginx.log"));
        var nginx = new NginxProcess(process, port, healthLog);
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await process.WaitUntilAsync(async () =>
        {
            using var response = await probe.GetAsync(new Uri($"http://127.0.0.1:{port}{ReadPath}"));
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(15), "answer on its read path");
        return nginx;
    }

    /// <summary>Requests to <c>/health</c> logged so far (one line each).</summary>
    public long HealthRequests()
    {
        if (!File.Exists(_healthLog)) return 0;
        using var stream = new FileStream(_healthLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[1 << 16];
        long lines = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        return lines;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
