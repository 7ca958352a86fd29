namespace Weft.Bench.Proxy;

/// <summary>
/// Something the load is sent to. <see cref="ProxyPids"/> are the processes whose CPU and memory are the
/// proxy's (none for direct); <see cref="Unavailable"/> says why a target cannot run in this build.
/// </summary>
internal abstract class Target : IAsyncDisposable
{
    public abstract string Name { get; }

    /// <summary>Proxy hops between client and backend: 0 direct, 1 for a proxy, 2 for two sidecars.</summary>
    public abstract int Hops { get; }

    public virtual string? Unavailable => null;

    /// <summary>Where HTTP/1.1 load goes.</summary>
    public Uri? Http1 { get; protected set; }

    /// <summary>Where h2c (prior knowledge) load goes; null when this target is not in the HTTP/2 run.</summary>
    public Uri? H2c { get; protected set; }

    /// <summary>The Host header to send: the upstream's service name for weft's outbound listener.</summary>
    public string? Host { get; protected set; }

    public virtual List<int> ProxyPids() => [];

    public abstract ValueTask DisposeAsync();
}

internal sealed class DirectTarget : Target
{
    public DirectTarget(Backend backend)
    {
        Http1 = new Uri($"http://127.0.0.1:{backend.Port}/");
        H2c = new Uri($"http://127.0.0.1:{backend.H2Port}/");
    }

    public override string Name => "direct";

    public override int Hops => 0;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>HAProxy (Debian's 2.6): one thread, http mode, keep-alive and connection reuse to the backend.</summary>
internal sealed class HaproxyTarget : Target
{
    private ChildProcess? _process;

    public override string Name => "haproxy";

    public override int Hops => 1;

    public override List<int> ProxyPids() => _process is null ? [] : [_process.Pid];

    public static async Task<HaproxyTarget> StartAsync(BenchContext ctx, Backend backend)
    {
        var port = ChildProcess.FreeLoopbackPort();
        var h2Port = ChildProcess.FreeLoopbackPort();
        var config = Path.Combine(ctx.WorkDir, "haproxy.cfg");
        await File.WriteAllTextAsync(config, $"""
            global
                nbthread 1
                maxconn 4096
            defaults
                mode http
                option http-keep-alive
                http-reuse always
                timeout connect 5s
                timeout client 60s
                timeout server 60s
            frontend h1
                bind 127.0.0.1:{port}
                default_backend app
            frontend h2c
                bind 127.0.0.1:{h2Port} proto h2
                default_backend app
            backend app
                server app1 127.0.0.1:{backend.Port}

            """);
        // -db: stay in the foreground, no master process: the one PID is the whole proxy.
        var target = new HaproxyTarget
        {
            _process = ChildProcess.Start("haproxy", "haproxy", ["-db", "-f", config], ctx.WorkDir, Path.Combine(ctx.WorkDir, "haproxy.log")),
            Http1 = new Uri($"http://127.0.0.1:{port}/"),
            H2c = new Uri($"http://127.0.0.1:{h2Port}/"),
        };
        await target._process.WaitUntilAsync(() => Task.FromResult(Nginx.Listening(port) && Nginx.Listening(h2Port)),
            TimeSpan.FromSeconds(15), "listeners");
        return target;
    }

    public override ValueTask DisposeAsync() => _process?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>nginx as a reverse proxy: one worker, proxy_pass to an upstream with keep-alive connections.</summary>
internal sealed class NginxTarget : Target
{
    private ChildProcess? _process;

    public override string Name => "nginx";

    public override int Hops => 1;

    public override List<int> ProxyPids() => _process is null ? [] : ProcStats.WithChildren(_process.Pid);

    public static async Task<NginxTarget> StartAsync(BenchContext ctx, Backend backend)
    {
        var port = ChildProcess.FreeLoopbackPort();
        var h2Port = ChildProcess.FreeLoopbackPort();
        var process = await Nginx.StartAsync(ctx, "proxy", $$"""
            upstream app {
                server 127.0.0.1:{{backend.Port}};
                keepalive 64;
                keepalive_requests 10000000;
            }
            server {
                listen 127.0.0.1:{{port}};
                listen 127.0.0.1:{{h2Port}} http2;
                location / {
                    proxy_pass http://app;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                }
            }
            """, port);
        return new NginxTarget { _process = process, Http1 = new Uri($"http://127.0.0.1:{port}/"), H2c = new Uri($"http://127.0.0.1:{h2Port}/") };
    }

    public override ValueTask DisposeAsync() => _process?.DisposeAsync() ?? ValueTask.CompletedTask;
}
