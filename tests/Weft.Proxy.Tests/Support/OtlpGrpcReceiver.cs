using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Weft.Proxy.Tests.Support.Otlp;

namespace Weft.Proxy.Tests.Support;

/// <summary>
/// A real OTLP/gRPC trace receiver on loopback (h2c, <c>opentelemetry.proto.collector.trace.v1.TraceService/Export</c>),
/// served by Grpc.AspNetCore.
/// </summary>
internal sealed class OtlpGrpcReceiver : OtlpCollector
{
    private OtlpGrpcReceiver()
    {
    }

    public static async Task<OtlpGrpcReceiver> StartAsync()
    {
        var receiver = new OtlpGrpcReceiver();
        await receiver.ListenAsync(
            app => app.MapGrpcService<Service>(),
            HttpProtocols.Http2,
            services =>
            {
                services.AddGrpc();
                services.AddSingleton(new Service(receiver));
            });
        return receiver;
    }

    private sealed class Service(OtlpGrpcReceiver receiver) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            receiver.Receive(request);
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }
}
