using System.Net.Sockets;

namespace Weft.Bench.Proxy;

/// <summary>An nginx of our own: one worker, a temp prefix, no access log, keep-alive without a request cap.</summary>
internal static class Nginx
{
    public static async Task<ChildProcess> StartAsync(BenchContext ctx, string label, string servers, int readyPort)
    {
        var root = Directory.CreateDirectory(Path.Combine(ctx.WorkDir, $"nginx-{label}")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "tmp"));
        var config = Path.Combine(root, "nginx.conf");
        // keepalive_requests: nginx 1.22 closes a keep-alive connection after 1,000 requests by default, which
        // would make every client and proxy reconnect mid-run.
        await File.WriteAllTextAsync(config, $$"""
            {{(Environment.UserName == "root" ? "user root;" : "")}}
            worker_processes 1;
            daemon off;
            pid {{root}}/nginx.pid;
            error_log {{root}}/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                keepalive_requests 10000000;
                keepalive_timeout 300s;
                client_body_temp_path {{root}}/tmp/body;
                proxy_temp_path {{root}}/tmp/proxy;
                fastcgi_temp_path {{root}}/tmp/fastcgi;
                uwsgi_temp_path {{root}}/tmp/uwsgi;
                scgi_temp_path {{root}}/tmp/scgi;
            {{servers}}
            }
            """);
        var process = ChildProcess.Start($"nginx ({label})", "nginx", ["-p", root + "/", "-c", config, "-e", Path.Combine(root, "error.log")],
            ctx.WorkDir, Path.Combine(ctx.WorkDir, $"nginx-{label}.log"));
        await process.WaitUntilAsync(() => Task.FromResult(Listening(readyPort)), TimeSpan.FromSeconds(15), $"listener on {readyPort}");
        return process;
    }

    public static bool Listening(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
