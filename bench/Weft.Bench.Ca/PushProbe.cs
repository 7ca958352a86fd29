using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Weft.Core.Mesh.Protocol;

namespace Weft.Bench.Ca;

/// <summary>
/// Config push latency as a sidecar sees it: one raw stream client of <c>mesh.proto</c> (Hello, then acknowledging every
/// version, as a sidecar does); a probe writes a new <c>service-defaults</c> entry with <c>PUT /v1/config</c> and times
/// from sending the PUT until the stream delivers that entry.
/// </summary>
internal sealed class PushProbe : IAsyncDisposable
{
    private readonly GrpcChannel _channel;
    private readonly AsyncDuplexStreamingCall<ProxyMessage, ServerMessage> _call;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<long>> _waiting = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private readonly TaskCompletionSource _snapshot = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _next;

    private PushProbe(GrpcChannel channel)
    {
        _channel = channel;
        _call = new MeshStream.MeshStreamClient(channel).Stream(cancellationToken: _stop.Token);
        _reader = Task.Run(ReadAsync);
    }

    public static async Task<PushProbe> ConnectAsync(Uri grpc)
    {
        var probe = new PushProbe(GrpcChannel.ForAddress(grpc));
        await probe._call.RequestStream.WriteAsync(new ProxyMessage { Hello = new Hello { Service = "push-probe", ProxyId = "push-probe-1", Node = "bench" } });
        await probe._snapshot.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return probe;
    }

    private async Task ReadAsync()
    {
        try
        {
            await foreach (var message in _call.ResponseStream.ReadAllAsync(_stop.Token))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var entry in message.Entries)
                {
                    if (_waiting.TryRemove(entry.Name, out var arrived)) arrived.TrySetResult(now);
                }

                _snapshot.TrySetResult();
                await _call.RequestStream.WriteAsync(new ProxyMessage { Ack = new Ack { Version = message.Version } }, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException || e is RpcException { StatusCode: StatusCode.Cancelled })
        {
        }
    }

    /// <summary>Writes one new entry and returns the milliseconds until the stream delivered it (at most 10 s).</summary>
    public async Task<double> MeasureAsync(HttpClient http, Uri api)
    {
        var name = $"push-probe-{Interlocked.Increment(ref _next)}";
        var arrived = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[name] = arrived;
        var start = Stopwatch.GetTimestamp();
        using (var put = await http.PutAsJsonAsync(new Uri(api, "/v1/config"), new JsonObject { ["Kind"] = "service-defaults", ["Name"] = name, ["Protocol"] = "http" }))
            put.EnsureSuccessStatusCode();
        return Stats.Ms(start, await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _reader;
        }
        finally
        {
            _call.Dispose();
            _channel.Dispose();
            _stop.Dispose();
        }
    }
}
