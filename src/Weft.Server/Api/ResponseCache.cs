using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace Weft.Server.Api;

/// <summary>
/// Serialized read responses, keyed by path and query and valid for one topic index. When a change wakes a
/// thousand watchers of the same query, one of them serializes the answer and the rest send the same bytes.
/// A topic's index changes whenever its answer may have, so an entry with the current index is the answer.
/// </summary>
internal sealed class ResponseCache
{
    private const int MaxEntries = 4096;
    private const long MaxBytes = 64L * 1024 * 1024;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _bytes;

    public ResponseBody Get(HttpRequest request, ulong index, Func<ResponseBody> serialize)
    {
        var key = Key(request);
        var entry = _entries.AddOrUpdate(key,
            static (_, arg) => new Entry(arg.index, new Lazy<ResponseBody>(arg.serialize)),
            static (_, existing, arg) => existing.Index == arg.index ? existing : new Entry(arg.index, new Lazy<ResponseBody>(arg.serialize)),
            (index, serialize));
        var created = !entry.Body.IsValueCreated;
        var body = entry.Body.Value;
        if (created && Interlocked.Add(ref _bytes, body.Length) > MaxBytes || _entries.Count > MaxEntries)
        {
            // Crude but bounded: start over rather than grow. Watchers re-fill what they still use.
            _entries.Clear();
            Interlocked.Exchange(ref _bytes, 0);
        }

        return body;
    }

    /// <summary>The request with the parameters that do not change the answer left out.</summary>
    private static string Key(HttpRequest request)
    {
        var parts = request.Query
            .Where(q => q.Key is not ("index" or "wait" or "token" or "stale" or "consistent" or "cached"))
            .OrderBy(q => q.Key, StringComparer.Ordinal)
            .Select(q => q.Key + "=" + string.Join(',', q.Value.ToArray()));
        return request.Path.Value + "?" + string.Join('&', parts);
    }

    private sealed record Entry(ulong Index, Lazy<ResponseBody> Body);
}
