using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// xxHash64, the hash Envoy uses for rings and tables: the same value in every process and on every machine, so
/// sidecars agree on where a key goes (unlike <see cref="string.GetHashCode()"/>, randomized per process).
/// Text is hashed as UTF-8.
/// </summary>
internal static class StableHash
{
    private const int StackLimit = 256;

    public static ulong Of(ReadOnlySpan<byte> bytes, long seed = 0) => XxHash64.HashToUInt64(bytes, seed);

    public static ulong Of(ReadOnlySpan<char> text, long seed = 0)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = null;
        var buffer = max <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(max));
        var length = Encoding.UTF8.GetBytes(text, buffer);
        var hash = XxHash64.HashToUInt64(buffer[..length], seed);
        if (rented is not null)
            ArrayPool<byte>.Shared.Return(rented);
        return hash;
    }

    /// <summary>The key an endpoint is placed by on rings and tables: its ID and address.</summary>
    public static string EndpointKey(EndpointState endpoint) => $"{endpoint.Endpoint.Id}@{endpoint.HostPort}";
}
