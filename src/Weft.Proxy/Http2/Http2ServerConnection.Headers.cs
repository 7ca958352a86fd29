using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Weft.Proxy.Http2;

/// <summary>Response heads and trailers as HPACK blocks (static-table indexing and literals, no dynamic table).</summary>
internal sealed partial class Http2ServerConnection
{
    private void WriteHeadersLocked(Http2ServerStream stream, bool endStream)
    {
        var block = EncodeResponseHead(stream.StatusCode, stream.ResponseHeaders);
        _writes.AddHeaderBlock(stream.Id, block, endStream, _peerMaxFrameSize);
    }

    /// <summary>An interim <c>:status 100</c> head (RFC 9110 10.1.1), unless the response already started or ended.</summary>
    internal void SendContinue(Http2ServerStream stream)
    {
        lock (_sync)
        {
            if (stream.HeadersSent || stream.ResponseEnded || _failed)
                return;
            var length = 0;
            Append(":status"u8, "100"u8, ref length);
            _writes.AddHeaderBlock(stream.Id, _headerScratch.AsSpan(0, length), endStream: false, _peerMaxFrameSize);
        }

        StartFlush();
    }

    /// <summary>The response trailers as the stream's last HEADERS frame (and CONTINUATIONs), with END_STREAM.</summary>
    private void WriteTrailersLocked(Http2ServerStream stream, IHeaderDictionary trailers)
    {
        var length = 0;
        AppendFields(trailers, ref length);
        _writes.AddHeaderBlock(stream.Id, _headerScratch.AsSpan(0, length), endStream: true, _peerMaxFrameSize);
    }

    /// <summary>:status and the response headers, names lower-cased, connection-specific fields left out (8.2.2).</summary>
    private ReadOnlySpan<byte> EncodeResponseHead(int status, IHeaderDictionary headers)
    {
        var length = 0;
        Span<byte> code = stackalloc byte[3];
        status = status is >= 100 and <= 999 ? status : 500;
        code[0] = (byte)('0' + status / 100);
        code[1] = (byte)('0' + status / 10 % 10);
        code[2] = (byte)('0' + status % 10);
        Append(":status"u8, code, ref length);
        AppendFields(headers, ref length);
        return _headerScratch.AsSpan(0, length);
    }

    /// <summary>The fields, names lower-cased; connection-specific ones (8.2.2) and pseudo-header names left out.</summary>
    private void AppendFields(IHeaderDictionary headers, ref int length)
    {
        // One scratch for every field's lower-cased name.
        Span<byte> name = stackalloc byte[256];
        // Our own collection (the usual case) is walked with its struct enumerator: through the interface, every
        // response would box one.
        if (headers is HeaderDictionary own)
        {
            foreach (var (key, values) in own)
                AppendField(key, values, name, ref length);
            return;
        }

        foreach (var (key, values) in headers)
            AppendField(key, values, name, ref length);
    }

    private void AppendField(string key, StringValues values, Span<byte> name, ref int length)
    {
        if (key.Length == 0 || key[0] == ':' || IsConnectionSpecific(key))
            return;
        var nameLength = Encoding.ASCII.GetByteCount(key);
        var nameBytes = nameLength <= name.Length ? name[..nameLength] : new byte[nameLength];
        Encoding.ASCII.GetBytes(key, nameBytes);
        for (var i = 0; i < nameBytes.Length; i++)
        {
            if (nameBytes[i] is >= (byte)'A' and <= (byte)'Z')
                nameBytes[i] |= 0x20;
        }

        foreach (var value in values)
        {
            var v = value ?? "";
            if (_valueScratch.Length < v.Length)
                _valueScratch = new byte[Math.Max(v.Length, _valueScratch.Length * 2)];
            var valueLength = Encoding.Latin1.GetBytes(v, _valueScratch);
            Append(nameBytes, _valueScratch.AsSpan(0, valueLength), ref length);
        }
    }

    private void Append(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ref int length)
    {
        var max = HPackEncoder.MaxEncodedLength(name.Length, value.Length);
        if (_headerScratch.Length - length < max)
            Array.Resize(ref _headerScratch, Math.Max(_headerScratch.Length * 2, length + max));
        length += HPackEncoder.EncodeField(name, value, _headerScratch.AsSpan(length));
    }

    /// <summary>The connection-specific fields (RFC 9113 8.2.2) among the names of a response we send, in any case; what a peer sends is checked by <see cref="FieldRules"/>.</summary>
    private static bool IsConnectionSpecific(string name) =>
        name.Equals("connection", StringComparison.OrdinalIgnoreCase) || name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) || name.Equals("upgrade", StringComparison.OrdinalIgnoreCase)
        || name.Equals("proxy-connection", StringComparison.OrdinalIgnoreCase);
}
