using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 server's stream is its request's feature collection and is reused for later streams of the
/// connection: what a request sets (items, a feature, its trace identifier) must not reach the next one, and the
/// request's own features are this request's.
/// </summary>
public sealed class Http2ServerFeaturesTests
{
    private sealed class Marker;

    [Fact]
    public async Task WhatOneRequestSets_IsGoneForTheNext_OnTheSameConnection()
    {
        var identifiers = new List<string>();
        await using var server = await OwnServer.StartAsync(async c =>
        {
            identifiers.Add(c.TraceIdentifier);
            var seen = $"path={c.Features.Get<IHttpRequestFeature>()!.Path} items={c.Items.Count} marker={c.Features.Get<Marker>() is not null}";
            c.Items["set by"] = c.Request.Path.Value;
            c.Features.Set(new Marker());
            // Replaced for this request only, as the access log replaces the body feature.
            var counting = new StreamResponseBodyFeature(c.Response.Body);
            c.Features.Set<IHttpResponseBodyFeature>(counting);
            await c.Response.WriteAsync(seen);
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        var bodies = new List<string>();
        for (var (stream, i) = (1, 0); i < 5; stream += 2, i++)
        {
            await raw.GetAsync(stream, $"/r{i}");
            var (status, body, _) = await raw.ReadResponseAsync(stream);
            Assert.Equal(200, status);
            bodies.Add(Encoding.UTF8.GetString(body));
        }

        // Each request starts clean, and its request feature is its own, however the stream objects were reused.
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"path=/r{i} items=0 marker=False"), bodies);
        Assert.Equal(5, identifiers.Distinct().Count());
    }

    [Fact]
    public async Task FeaturesOfTheRequest_ComeFromTheStream_AndTheConnection()
    {
        string? seen = null;
        await using var server = await OwnServer.StartAsync(c =>
        {
            var features = c.Features;
            var listed = features.Select(p => p.Key).ToHashSet();
            seen = string.Join(",",
                features.Get<IHttpRequestFeature>() is not null, features.Get<IHttpResponseBodyFeature>() is not null,
                features.Get<IHttpConnectionFeature>()?.LocalPort > 0, listed.Contains(typeof(IHttpRequestFeature)),
                listed.Contains(typeof(IHttpConnectionFeature)), features[typeof(Marker)] is null);
            return c.Response.WriteAsync("ok");
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.GetAsync(1, "/");
        var (status, _, _) = await raw.ReadResponseAsync(1);

        Assert.Equal(200, status);
        Assert.Equal("True,True,True,True,True,True", seen);
    }
}
