using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Weft.Proxy.Tests.Support;

/// <summary>A real Kestrel app on 127.0.0.1 with an OS-chosen port, standing in for a service instance.</summary>
internal sealed class Backend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private Backend(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }
    public IPEndPoint Address => new(IPAddress.Loopback, Port);

    /// <param name="listen">More of the listener's setup, e.g. a connection middleware that takes every connection.</param>
    public static async Task<Backend> StartAsync(Action<WebApplication> map, HttpProtocols protocols = HttpProtocols.Http1, Action<IServiceCollection>? services = null,
        Action<ListenOptions>? listen = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
        {
            l.Protocols = protocols;
            listen?.Invoke(l);
        }));
        services?.Invoke(builder.Services);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Backend(app, new Uri(address).Port);
    }

    /// <summary>An app that never answers: each request waits until its caller (the proxy) gives up on it.</summary>
    public static Task<Backend> StartHangingAsync() => StartAsync(a => a.Run(c =>
        Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default)));

    /// <summary>
    /// An app whose requests wait at a gate, for tests of what happens while a request is in flight (drain, limits):
    /// <see cref="Gated.Entered"/> completes when the first request arrives, and every request answers
    /// <paramref name="answer"/> once <see cref="Gated.Release"/> is called.
    /// </summary>
    public static async Task<Gated> StartGatedAsync(string answer = "finished")
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = await StartAsync(a => a.Run(async c =>
        {
            entered.TrySetResult();
            await release.Task;
            await c.Response.WriteAsync(answer);
        }));
        return new Gated(backend, entered, release);
    }

    /// <summary>
    /// An app for tests of retries: every request is answered 503 with no body, and counted in
    /// <see cref="Failing.Requests"/>.
    /// </summary>
    public static async Task<Failing> StartFailingAsync()
    {
        var requests = new StrongBox<int>();
        var backend = await StartAsync(a => a.Run(c =>
        {
            Interlocked.Increment(ref requests.Value);
            c.Response.StatusCode = 503;
            return Task.CompletedTask;
        }));
        return new Failing(backend, requests);
    }

    /// <summary>
    /// An app for tests of a per-try timeout: <c>/slow</c> waits until its caller (the proxy) gives up on it, which
    /// completes <see cref="SlowPath.Aborted"/> (and its arrival <see cref="SlowPath.Arrived"/>); any other path answers
    /// <c>quick</c> at once.
    /// </summary>
    public static async Task<SlowPath> StartSlowPathAsync()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = await StartAsync(a => a.Run(async c =>
        {
            if (c.Request.Path == "/slow")
            {
                c.RequestAborted.Register(() => aborted.TrySetResult());
                arrived.TrySetResult();
                await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }

            await c.Response.WriteAsync("quick");
        }));
        return new SlowPath(backend, arrived, aborted);
    }

    /// <summary>
    /// An app for tests of a caller that goes away mid-response: <c>/stream</c> streams 16 KiB chunks, 5 ms apart
    /// (10,000 at most), until its request is aborted, which completes <see cref="Streaming.Aborted"/>; any other path
    /// answers <c>fine</c>.
    /// </summary>
    public static async Task<Streaming> StartStreamingAsync()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = await StartAsync(a => a.Run(async c =>
        {
            if (c.Request.Path != "/stream")
            {
                await c.Response.WriteAsync("fine");
                return;
            }

            c.RequestAborted.Register(() => aborted.TrySetResult());
            var chunk = new byte[16 * 1024];
            try
            {
                for (var i = 0; i < 10_000 && !c.RequestAborted.IsCancellationRequested; i++)
                {
                    await c.Response.Body.WriteAsync(chunk, c.RequestAborted);
                    await Task.Delay(5, c.RequestAborted);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }));
        return new Streaming(backend, aborted);
    }

    internal sealed class Failing(Backend backend, StrongBox<int> requests) : IAsyncDisposable
    {
        public IPEndPoint Address => backend.Address;

        /// <summary>The requests answered 503 so far.</summary>
        public int Requests => Volatile.Read(ref requests.Value);

        public ValueTask DisposeAsync() => backend.DisposeAsync();
    }

    internal sealed class SlowPath(Backend backend, TaskCompletionSource arrived, TaskCompletionSource aborted) : IAsyncDisposable
    {
        public IPEndPoint Address => backend.Address;

        /// <summary>Completes when a <c>/slow</c> request has arrived.</summary>
        public Task Arrived => arrived.Task;

        /// <summary>Completes when a <c>/slow</c> request has been aborted by its caller.</summary>
        public Task Aborted => aborted.Task;

        public ValueTask DisposeAsync() => backend.DisposeAsync();
    }

    internal sealed class Streaming(Backend backend, TaskCompletionSource aborted) : IAsyncDisposable
    {
        public IPEndPoint Address => backend.Address;

        /// <summary>Completes when a <c>/stream</c> request has been aborted by its caller.</summary>
        public Task Aborted => aborted.Task;

        public ValueTask DisposeAsync() => backend.DisposeAsync();
    }

    internal sealed class Gated(Backend backend, TaskCompletionSource entered, TaskCompletionSource release) : IAsyncDisposable
    {
        public IPEndPoint Address => backend.Address;

        /// <summary>Waits (10 s at most) until a request is held at the gate.</summary>
        public Task Entered => entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        public void Release() => release.TrySetResult();

        public ValueTask DisposeAsync()
        {
            // Never leave a request hanging on the gate while the app stops.
            Release();
            return backend.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
