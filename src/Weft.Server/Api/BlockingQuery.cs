using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Weft.Core.Catalog;
using Weft.Core.Text;
using Weft.Server.Catalog;
using Weft.Server.Metrics;

namespace Weft.Server.Api;

/// <summary>
/// Consul's blocking queries: with <c>?index=N</c> a read waits until its topic's index passes N or
/// <c>?wait</c> runs out (default 5 min, at most 10, plus up to 1/16 jitter so watchers spread out), then
/// answers with <c>X-Consul-Index</c> set to the topic's index. Without an index it answers at once.
/// </summary>
internal sealed class BlockingQuery(CatalogStore catalog, ServerMetrics metrics, TimeProvider time)
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(10);

    public async Task<IResult> RespondAsync<T>(HttpContext http, string topic, Func<CatalogState, T> read, JsonTypeInfo<T> type)
    {
        var state = await WaitAsync(http, topic);
        return _bodies.Get(http.Request, state.TopicIndex(topic), () => Serialize(read(state), type));
    }

    /// <summary>Into small chunks, not one array: see <see cref="ResponseBody"/>.</summary>
    private static ResponseBody Serialize<T>(T value, JsonTypeInfo<T> type)
    {
        var body = new ResponseBody();
        // The writer, not the serializer, escapes and indents: it takes both from the type's options.
        var options = type.Options;
        using (var writer = new Utf8JsonWriter(body, new JsonWriterOptions { Encoder = options.Encoder, Indented = options.WriteIndented, SkipValidation = true }))
            JsonSerializer.Serialize(writer, value, type);
        return body.Complete();
    }

    private readonly ResponseCache _bodies = new();

    /// <summary>Waits as the request asks, sets the index headers, and returns the state to answer from.</summary>
    public async Task<CatalogState> WaitAsync(HttpContext http, string topic)
    {
        var (minIndex, wait) = Parse(http.Request.Query);
        if (minIndex > 0)
            await WaitForChangeAsync(topic, minIndex, wait, http.RequestAborted);

        var state = catalog.Current;
        SetHeaders(http.Response, state.TopicIndex(topic));
        return state;
    }

    private async Task WaitForChangeAsync(string topic, ulong minIndex, TimeSpan wait, CancellationToken aborted)
    {
        var jitter = TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * (wait.Ticks / 16)));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var expired = Task.Delay(wait + jitter, time, timeout.Token);
        metrics.BlockingQueryStarted();
        try
        {
            while (true)
            {
                var changed = catalog.Watches.Next(topic);
                if (catalog.Current.TopicIndex(topic) > minIndex) return;
                if (await Task.WhenAny(changed, expired) == expired) return;
            }
        }
        finally
        {
            metrics.BlockingQueryEnded();
            await timeout.CancelAsync();
        }
    }

    public static void SetHeaders(HttpResponse response, ulong index)
    {
        response.Headers["X-Consul-Index"] = Math.Max(1, index).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["X-Consul-KnownLeader"] = "true";
        response.Headers["X-Consul-LastContact"] = "0";
    }

    private static (ulong MinIndex, TimeSpan Wait) Parse(IQueryCollection query)
    {
        ulong minIndex = 0;
        if (query.TryGetValue("index", out var indexText) && !string.IsNullOrEmpty(indexText) && !ulong.TryParse(indexText, out minIndex))
            throw ApiException.BadRequest($"Invalid index \"{indexText}\": must be a non-negative integer");

        var wait = DefaultWait;
        if (query.TryGetValue("wait", out var waitText) && !string.IsNullOrEmpty(waitText))
        {
            if (!GoDuration.TryParse(waitText, out wait, out var error) || wait < TimeSpan.Zero)
                throw ApiException.BadRequest($"Invalid wait time \"{waitText}\": {(error.Length > 0 ? error : "must not be negative")}");
            if (wait == TimeSpan.Zero) wait = DefaultWait;
            if (wait > MaxWait) wait = MaxWait;
        }

        return (minIndex, wait);
    }
}
