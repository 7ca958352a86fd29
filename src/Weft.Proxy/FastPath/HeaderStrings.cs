using System.Collections.Frozen;
using System.IO.Hashing;
using System.Text;
using Microsoft.Net.Http.Headers;

namespace Weft.Proxy.FastPath;

/// <summary>
/// Strings for response header names and values read as bytes from the app, without allocating one per header on the
/// steady path: names come from a table of the known ones (Kestrel's own constants, which its header dictionary
/// matches fastest), and short values from a small shared cache that remembers the last string seen per hash slot
/// (an app's <c>Content-Type</c>, <c>Date</c> within the second, <c>Cache-Control</c> ...). A miss allocates the string
/// and takes the slot; racing writers only replace one whole reference with another.
/// </summary>
internal sealed class HeaderStrings
{
    private const int Slots = 512;
    private const int MaxCachedValue = 96;

    private static readonly FrozenDictionary<string, string> KnownNames = new[]
    {
        HeaderNames.AcceptRanges, HeaderNames.AccessControlAllowCredentials, HeaderNames.AccessControlAllowHeaders,
        HeaderNames.AccessControlAllowMethods, HeaderNames.AccessControlAllowOrigin, HeaderNames.AccessControlExposeHeaders,
        HeaderNames.AccessControlMaxAge, HeaderNames.Age, HeaderNames.Allow, HeaderNames.CacheControl,
        HeaderNames.ContentDisposition, HeaderNames.ContentEncoding, HeaderNames.ContentLanguage, HeaderNames.ContentLength,
        HeaderNames.ContentLocation, HeaderNames.ContentRange, HeaderNames.ContentSecurityPolicy, HeaderNames.ContentType,
        HeaderNames.Date, HeaderNames.ETag, HeaderNames.Expires, HeaderNames.GrpcMessage, HeaderNames.GrpcStatus,
        HeaderNames.LastModified, HeaderNames.Link, HeaderNames.Location, HeaderNames.Pragma, HeaderNames.RetryAfter,
        HeaderNames.Server, HeaderNames.SetCookie, HeaderNames.StrictTransportSecurity, HeaderNames.Trailer, HeaderNames.Vary,
        HeaderNames.Via, HeaderNames.WWWAuthenticate, HeaderNames.XContentTypeOptions, HeaderNames.XFrameOptions,
        HeaderNames.XPoweredBy, HeaderNames.XXSSProtection, HeaderNames.TraceParent, HeaderNames.TraceState,
        Forwarding.ProxyErrors.Header,
    }.ToFrozenDictionary(n => n, n => n, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> NameLookup =
        KnownNames.GetAlternateLookup<ReadOnlySpan<char>>();

    private readonly string?[] _values = new string?[Slots];

    /// <summary>The name as a string: a known header's constant, otherwise a new string.</summary>
    public static string Name(ReadOnlySpan<byte> name)
    {
        if (name.Length <= 64)
        {
            Span<char> chars = stackalloc char[name.Length];
            Encoding.Latin1.GetChars(name, chars);
            if (NameLookup.TryGetValue(chars, out var known))
                return known;
            return new string(chars);
        }

        return Encoding.Latin1.GetString(name);
    }

    /// <summary>The value as a string, from the cache when the same bytes were seen last in its slot.</summary>
    public string Value(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
            return "";
        if (value.Length > MaxCachedValue)
            return Encoding.Latin1.GetString(value);
        var slot = (int)(XxHash3.HashToUInt64(value) & (Slots - 1));
        var cached = Volatile.Read(ref _values[slot]);
        if (cached is not null && Same(cached, value))
            return cached;
        var created = Encoding.Latin1.GetString(value);
        Volatile.Write(ref _values[slot], created);
        return created;
    }

    private static bool Same(string s, ReadOnlySpan<byte> bytes)
    {
        if (s.Length != bytes.Length)
            return false;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (s[i] != bytes[i])
                return false;
        }

        return true;
    }
}
