using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Weft.Proxy.Tests.Support.EchoProto;

namespace Weft.Proxy.Tests.Support;

/// <summary>
/// A gRPC app on Kestrel (h2c) with every call shape (Support/Protos/echo.proto). Every call answers a trailer
/// <c>x-echo-calls</c> (its count) next to gRPC's own status; a unary call whose text is "fail" ends FAILED_PRECONDITION.
/// <see cref="Hang"/> sends one message and then waits for its caller to give up, which <see cref="Abandoned"/> reports.
/// </summary>
internal sealed class EchoGrpcApp : Echo.EchoBase
{
    private int _calls;

    /// <summary>Completes when a hanging call's CancellationToken fires: the caller's cancel or deadline reached the app.</summary>
    public TaskCompletionSource Abandoned { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static Task<Backend> StartAsync(EchoGrpcApp app) =>
        Backend.StartAsync(a => a.MapGrpcService<EchoGrpcApp>(), HttpProtocols.Http2, s =>
        {
            s.AddGrpc();
            s.AddSingleton(app);
        });

    private void Count(ServerCallContext context) =>
        context.ResponseTrailers.Add("x-echo-calls", Interlocked.Increment(ref _calls).ToString(System.Globalization.CultureInfo.InvariantCulture));

    public override Task<EchoMessage> Unary(EchoMessage request, ServerCallContext context)
    {
        Count(context);
        if (request.Text == "fail")
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "asked to fail"));
        return Task.FromResult(new EchoMessage { Text = "echo: " + request.Text, Count = 1 });
    }

    public override async Task ServerStream(EchoMessage request, IServerStreamWriter<EchoMessage> responseStream, ServerCallContext context)
    {
        Count(context);
        for (var i = 0; i < request.Count; i++)
            await responseStream.WriteAsync(new EchoMessage { Text = $"{request.Text} {i}", Count = i });
    }

    public override async Task<EchoMessage> ClientStream(IAsyncStreamReader<EchoMessage> requestStream, ServerCallContext context)
    {
        Count(context);
        var texts = new List<string>();
        while (await requestStream.MoveNext(context.CancellationToken))
            texts.Add(requestStream.Current.Text);
        return new EchoMessage { Text = string.Join(",", texts), Count = texts.Count };
    }

    public override async Task Bidi(IAsyncStreamReader<EchoMessage> requestStream, IServerStreamWriter<EchoMessage> responseStream, ServerCallContext context)
    {
        Count(context);
        var n = 0;
        while (await requestStream.MoveNext(context.CancellationToken))
            await responseStream.WriteAsync(new EchoMessage { Text = "echo: " + requestStream.Current.Text, Count = ++n });
    }

    public override async Task Hang(EchoMessage request, IServerStreamWriter<EchoMessage> responseStream, ServerCallContext context)
    {
        await responseStream.WriteAsync(new EchoMessage { Text = "started" });
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            Abandoned.TrySetResult();
            throw;
        }
    }
}
