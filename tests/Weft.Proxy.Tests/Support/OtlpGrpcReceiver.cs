using System.Collections.Concurrent;
using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Weft.Proxy.Tests.Support.Otlp;

namespace Weft.Proxy.Tests.Support;

/// <summary>
/// A real OTLP/gRPC trace receiver on loopback (h2c, <c>opentelemetry.proto.collector.trace.v1.TraceService/Export</c>),
/// served by Grpc.AspNetCore from the messages in <c>Protos/otlp_trace.proto</c>.
/// </summary>
internal sealed class OtlpGrpcReceiver : IAsyncDisposable
{
    private readonly Backend _backend;
    private readonly ConcurrentQueue<ReceivedSpan> _spans;

    private OtlpGrpcReceiver(Backend backend, ConcurrentQueue<ReceivedSpan> spans)
    {
        _backend = backend;
        _spans = spans;
    }

    /// <summary>The collector's address as given to an exporter (no path: gRPC's is the method's).</summary>
    public Uri Endpoint => new($"http://{_backend.Address}");

    public IReadOnlyList<ReceivedSpan> Spans => _spans.ToArray();

    public static async Task<OtlpGrpcReceiver> StartAsync()
    {
        var spans = new ConcurrentQueue<ReceivedSpan>();
        var backend = await Backend.StartAsync(
            app => app.MapGrpcService<Service>(),
            HttpProtocols.Http2,
            services =>
            {
                services.AddGrpc();
                services.AddSingleton(new Service(spans));
            });
        return new OtlpGrpcReceiver(backend, spans);
    }

    /// <summary>Waits until <paramref name="count"/> spans arrived, within a deadline.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(int count, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (_spans.Count < count && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        return Spans;
    }

    public ValueTask DisposeAsync() => _backend.DisposeAsync();

    private sealed class Service(ConcurrentQueue<ReceivedSpan> spans) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            foreach (var resource in request.ResourceSpans)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
                {
                    spans.Enqueue(new ReceivedSpan(service, Hex(span.TraceId), Hex(span.SpanId), Hex(span.ParentSpanId), span.Name, span.Kind,
                        span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value))));
                }
            }

            return Task.FromResult(new ExportTraceServiceResponse());
        }

        private static string Hex(Google.Protobuf.ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

        private static string Text(AnyValue? value) => value?.ValueCase switch
        {
            AnyValue.ValueOneofCase.StringValue => value.StringValue,
            AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
            AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
            AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
            _ => "",
        };
    }
}
