using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Weft.Proxy.Tests.Support.Otlp;

namespace Weft.Proxy.Tests.Support;

/// <summary>One span as an OTLP collector received it.</summary>
internal sealed record ReceivedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// What both OTLP trace receivers share: a real server on loopback (a <see cref="Backend"/>), the spans it received,
/// decoded from the opentelemetry-proto messages in <c>Protos/otlp_trace.proto</c>, and a wait for them. The
/// subclasses differ only in the transport: OTLP/HTTP protobuf or OTLP/gRPC.
/// </summary>
internal abstract class OtlpCollector : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private Backend? _backend;

    /// <summary>The collector's address as given to an exporter (no path).</summary>
    public Uri Endpoint => new($"http://{_backend!.Address}");

    public IReadOnlyList<ReceivedSpan> Spans => _spans.ToArray();

    protected async Task ListenAsync(Action<WebApplication> map, HttpProtocols protocols = HttpProtocols.Http1, Action<IServiceCollection>? services = null) =>
        _backend = await Backend.StartAsync(map, protocols, services);

    /// <summary>Keeps the spans of one export, with only what the tests look at.</summary>
    protected void Receive(ExportTraceServiceRequest request)
    {
        foreach (var resource in request.ResourceSpans)
        {
            var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
            foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
            {
                _spans.Enqueue(new ReceivedSpan(service, Hex(span.TraceId), Hex(span.SpanId), Hex(span.ParentSpanId), span.Name, span.Kind,
                    span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value))));
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> spans arrived, within a deadline.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(int count, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (_spans.Count < count && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        return Spans;
    }

    public ValueTask DisposeAsync() => _backend?.DisposeAsync() ?? ValueTask.CompletedTask;

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
