using System.Buffers;

namespace Weft.Proxy.Http2;

/// <summary>
/// RFC 9113 8.2's rules for the fields a peer sends, one copy for both ends: the server checks requests and their
/// trailers with them, the client responses (either would otherwise pass a field an HTTP/1.1 hop cannot carry).
/// </summary>
internal static class FieldRules
{
    private static readonly SearchValues<byte> NameBytes = SearchValues.Create(
        [.. Enumerable.Range(0x21, 0x7F - 0x21).Where(b => b is not (>= 'A' and <= 'Z' or ':')).Select(b => (byte)b)]);

    /// <summary>A lower-case token (8.2.1): no upper case, controls, spaces or colon, so a pseudo-header fails it too (one vectorised scan).</summary>
    public static bool IsRegularName(ReadOnlySpan<byte> name) => !name.IsEmpty && name.IndexOfAnyExcept(NameBytes) < 0;

    /// <summary>
    /// 8.2.1: no NUL, CR or LF anywhere in a value (they would split or end it on an HTTP/1.1 hop). Leading or trailing
    /// whitespace, which the same section also forbids, is let through, as most servers do.
    /// </summary>
    public static bool IsValidValue(ReadOnlySpan<byte> value) => value.IndexOfAny((byte)0, (byte)'\r', (byte)'\n') < 0;

    /// <summary>The connection-specific fields 8.2.2 forbids, for a name already checked to be lower case.</summary>
    public static bool IsConnectionSpecific(ReadOnlySpan<byte> name) => name.Length switch
    {
        7 => name.SequenceEqual("upgrade"u8),
        10 => name.SequenceEqual("connection"u8) || name.SequenceEqual("keep-alive"u8),
        16 => name.SequenceEqual("proxy-connection"u8),
        17 => name.SequenceEqual("transfer-encoding"u8),
        _ => false,
    };
}
