using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Tests.Support.Otlp;

namespace Weft.Proxy.Tests.Support;

/// <summary>A real OTLP/HTTP trace receiver on loopback (<c>POST /v1/traces</c>, <c>application/x-protobuf</c>).</summary>
internal sealed class OtlpReceiver : OtlpCollector
{
    private OtlpReceiver()
    {
    }

    public static async Task<OtlpReceiver> StartAsync()
    {
        var receiver = new OtlpReceiver();
        await receiver.ListenAsync(app => app.MapPost("/v1/traces", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            receiver.Receive(ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray()));
            c.Response.ContentType = "application/x-protobuf";
        }));
        return receiver;
    }
}
