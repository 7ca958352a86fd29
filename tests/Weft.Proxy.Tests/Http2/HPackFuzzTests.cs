using System.Diagnostics;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// Random and mutated blocks from a fixed seed: the decoder only ever throws <see cref="Http2ProtocolException"/>,
/// and finishes each block (a loop that never ends would hit the deadline).
/// </summary>
public sealed class HPackFuzzTests
{
    private static readonly string[] Seeds =
    [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133",
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6",
        "3fe1 1f82 1008 7061 7373 776f 7264 0673 6563 7265 74",
    ];

    [Fact]
    public void Decode_RandomAndMutatedBlocks_ThrowsOnlyProtocolErrors()
    {
        var random = new Random(20261127);
        var seeds = Seeds.Select(HeaderList.Hex).ToArray();
        var deadline = Stopwatch.StartNew();
        var sink = new CountingSink();
        var rejected = 0;
        // One decoder for a run of blocks, as on a connection, and a fresh one now and then.
        var decoder = new HPackDecoder(maxTableSize: 256, maxHeaderListSize: 4096);
        for (var i = 0; i < 20_000; i++)
        {
            if (i % 100 == 0)
                decoder = new HPackDecoder(maxTableSize: 256, maxHeaderListSize: 4096);
            var block = i % 2 == 0 ? RandomBlock(random) : Mutate(random, seeds[random.Next(seeds.Length)]);
            try
            {
                decoder.Decode(block, sink);
            }
            catch (Http2ProtocolException e)
            {
                Assert.Equal(Http2ErrorCode.CompressionError, e.Code);
                rejected++;
                // After an error the connection ends; so does this decoder.
                decoder = new HPackDecoder(maxTableSize: 256, maxHeaderListSize: 4096);
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"block {i} of 20,000 still running after 60 s");
        }
        // Both outcomes happened: the fuzz reached past the first byte's checks.
        Assert.InRange(rejected, 1, 19_999);
        Assert.True(sink.Fields > 1000);
    }

    private static byte[] RandomBlock(Random random)
    {
        var block = new byte[random.Next(0, 64)];
        random.NextBytes(block);
        return block;
    }

    private static byte[] Mutate(Random random, byte[] seed)
    {
        var block = new List<byte>(seed);
        for (var edits = random.Next(1, 4); edits > 0; edits--)
        {
            var at = random.Next(block.Count + 1);
            switch (random.Next(4))
            {
                case 0 when at < block.Count:
                    block[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when at < block.Count:
                    block.RemoveRange(at, random.Next(1, block.Count - at + 1));
                    break;
                case 2:
                    block.Insert(at, (byte)random.Next(256));
                    break;
                default:
                    if (at < block.Count)
                        block[at] = (byte)random.Next(256);
                    break;
            }
        }
        return [.. block];
    }

    private sealed class CountingSink : IHeaderSink
    {
        public int Fields { get; private set; }

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Fields++;
    }
}
