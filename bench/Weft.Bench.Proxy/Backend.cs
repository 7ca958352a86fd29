namespace Weft.Bench.Proxy;

/// <summary>
/// The backend every target forwards to: nginx with one worker answering <c>return 200 "hello"</c>, on an
/// HTTP/1.1 port and an h2c port. nginx rather than Kestrel because it is the cheapest fixed server here
/// (~10 µs per request, no JIT or GC), and on 2 shared cores whatever the backend burns is taken from the proxy.
/// </summary>
internal sealed class Backend : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private Backend(ChildProcess process, int port, int h2Port)
    {
        _process = process;
        Port = port;
        H2Port = h2Port;
    }

    public int Port { get; }

    public int H2Port { get; }

    /// <summary>The master and its worker, looked up now: the worker may start after the port answers.</summary>
    public List<int> Pids() => ProcStats.WithChildren(_process.Pid);

    public static async Task<Backend> StartAsync(BenchContext ctx)
    {
        var port = ChildProcess.FreeLoopbackPort();
        var h2Port = ChildProcess.FreeLoopbackPort();
        var process = await Nginx.StartAsync(ctx, "backend", $$"""
            server {
                listen 127.0.0.1:{{port}};
                listen 127.0.0.1:{{h2Port}} http2;
                location / {
                    default_type text/plain;
                    return 200 "hello";
                }
            }
            """, port);
        return new Backend(process, port, h2Port);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
