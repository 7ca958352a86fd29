namespace Weft.Proxy.Http2;

/// <summary>The HPACK static table (RFC 7541 Appendix A), indexed 1 to 61.</summary>
internal static class StaticTable
{
    public const int Count = 61;

    // Index 0 is unused so that a wire index is an array index.
    private static readonly (string Name, string Value)[] Entries =
    [
        ("", ""),
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""), ("etag", ""),
        ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""), ("if-modified-since", ""),
        ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""),
        ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""),
        ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""), ("set-cookie", ""),
        ("strict-transport-security", ""), ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""),
        ("www-authenticate", ""),
    ];

    private static readonly byte[][] Names = Array.ConvertAll(Entries, e => System.Text.Encoding.ASCII.GetBytes(e.Name));
    private static readonly byte[][] Values = Array.ConvertAll(Entries, e => System.Text.Encoding.ASCII.GetBytes(e.Value));

    // For each name length, the indexes whose name has it, lowest first: a lookup compares against a handful of names.
    private static readonly int[][] ByLength = BuildByLength();

    public static ReadOnlySpan<byte> Name(int index) => Names[index];

    public static ReadOnlySpan<byte> Value(int index) => Values[index];

    /// <summary>The lowest index whose name is <paramref name="name"/>, or 0.</summary>
    public static int FindName(ReadOnlySpan<byte> name)
    {
        var byLength = ByLength;
        if ((uint)name.Length >= (uint)byLength.Length)
            return 0;
        foreach (var index in byLength[name.Length])
        {
            if (name.SequenceEqual(Names[index]))
                return index;
        }
        return 0;
    }

    /// <summary>The index of the entry with this value among those named as <paramref name="nameIndex"/> is, or 0.</summary>
    public static int FindValue(int nameIndex, ReadOnlySpan<byte> value)
    {
        // Entries of one name are adjacent in the table.
        var name = Names[nameIndex];
        for (var index = nameIndex; index <= Count && Names[index].AsSpan().SequenceEqual(name); index++)
        {
            if (value.SequenceEqual(Values[index]))
                return index;
        }
        return 0;
    }

    private static int[][] BuildByLength()
    {
        var maxLength = 0;
        foreach (var name in Names)
            maxLength = Math.Max(maxLength, name.Length);
        var lists = new List<int>[maxLength + 1];
        for (var length = 0; length <= maxLength; length++)
            lists[length] = [];
        for (var index = 1; index <= Count; index++)
            lists[Names[index].Length].Add(index);
        return Array.ConvertAll(lists, l => l.ToArray());
    }
}
