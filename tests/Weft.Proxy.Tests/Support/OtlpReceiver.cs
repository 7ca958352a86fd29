using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Weft.Proxy.Tests.Support;

/// <summary>One span as an OTLP collector received it.</summary>
internal sealed record ReceivedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// A real OTLP/HTTP trace receiver on loopback (<c>POST /v1/traces</c>, <c>application/x-protobuf</c>). It decodes
/// the opentelemetry-proto messages (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span) field by field
/// with Google.Protobuf's wire reader, keeping only what the tests look at.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly Backend _backend;
    private readonly ConcurrentQueue<ReceivedSpan> _spans;

    private OtlpReceiver(Backend backend, ConcurrentQueue<ReceivedSpan> spans)
    {
        _backend = backend;
        _spans = spans;
    }

    public Uri Endpoint => new($"http://{_backend.Address}");
    public IReadOnlyList<ReceivedSpan> Spans => _spans.ToArray();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var spans = new ConcurrentQueue<ReceivedSpan>();
        var backend = await Backend.StartAsync(app => app.MapPost("/v1/traces", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            foreach (var span in Decode(ByteString.CopyFrom(body.ToArray())))
                spans.Enqueue(span);
            c.Response.ContentType = "application/x-protobuf";
        }));
        return new OtlpReceiver(backend, spans);
    }

    /// <summary>Waits until <paramref name="count"/> spans arrived, within a deadline.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(int count, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (_spans.Count < count && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        return Spans;
    }

    private static IEnumerable<ReceivedSpan> Decode(ByteString request)
    {
        foreach (var resourceSpans in Fields(request).Where(f => f.Field == 1))
        {
            var fields = Fields(resourceSpans.Bytes!).ToList();
            var service = fields.Where(f => f.Field == 1).SelectMany(r => Attributes(r.Bytes!)).FirstOrDefault(a => a.Key == "service.name").Value ?? "";
            foreach (var scopeSpans in fields.Where(f => f.Field == 2))
            {
                foreach (var span in Fields(scopeSpans.Bytes!).Where(f => f.Field == 2))
                {
                    var s = Fields(span.Bytes!).ToList();
                    string Hex(int field) => s.FirstOrDefault(f => f.Field == field).Bytes is { } b ? Convert.ToHexStringLower(b.ToByteArray()) : "";
                    yield return new ReceivedSpan(service, Hex(1), Hex(2), Hex(4),
                        s.First(f => f.Field == 5).Bytes!.ToStringUtf8(),
                        (int)s.FirstOrDefault(f => f.Field == 6).Number,
                        s.Where(f => f.Field == 9).Select(f => KeyValue(f.Bytes!)).ToDictionary(a => a.Key, a => a.Value));
                }
            }
        }
    }

    private static IEnumerable<(string Key, string Value)> Attributes(ByteString resource) =>
        Fields(resource).Where(f => f.Field == 1).Select(f => KeyValue(f.Bytes!));

    /// <summary>KeyValue { key = 1; AnyValue value = 2 { string = 1, bool = 2, int = 3, double = 4 } }, the value as text.</summary>
    private static (string Key, string Value) KeyValue(ByteString kv)
    {
        var fields = Fields(kv).ToList();
        var key = fields.First(f => f.Field == 1).Bytes!.ToStringUtf8();
        var any = fields.FirstOrDefault(f => f.Field == 2).Bytes;
        if (any is null)
            return (key, "");
        var value = Fields(any).FirstOrDefault();
        return (key, value.Field switch
        {
            1 => value.Bytes!.ToStringUtf8(),
            2 => value.Number != 0 ? "true" : "false",
            3 => ((long)value.Number).ToString(System.Globalization.CultureInfo.InvariantCulture),
            4 => BitConverter.Int64BitsToDouble((long)value.Number).ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => "",
        });
    }

    private static List<(int Field, ByteString? Bytes, ulong Number)> Fields(ByteString message)
    {
        var list = new List<(int, ByteString?, ulong)>();
        var input = new CodedInputStream(message.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            switch (WireFormat.GetTagWireType(tag))
            {
                case WireFormat.WireType.Varint: list.Add((field, null, input.ReadUInt64())); break;
                case WireFormat.WireType.Fixed64: list.Add((field, null, input.ReadFixed64())); break;
                case WireFormat.WireType.Fixed32: list.Add((field, null, input.ReadFixed32())); break;
                case WireFormat.WireType.LengthDelimited: list.Add((field, input.ReadBytes(), 0)); break;
                default: input.SkipLastField(); break;
            }
        }
        return list;
    }

    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}
