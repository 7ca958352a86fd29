using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>The examples of RFC 7541 Appendix C, each decoded and its dynamic table checked as the RFC prints it.</summary>
public sealed class HPackDecoderTests
{
    [Fact]
    public void Decode_LiteralWithIndexing_AddsTheFieldToTheTable()
    {
        var decoder = new HPackDecoder();
        var fields = HeaderList.Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        Assert.Equal([("custom-key", "custom-header")], fields);
        Assert.Equal(1, decoder.TableCount);
        Assert.Equal(55, decoder.TableSize);
        // The new entry is index 62 now.
        Assert.Equal([("custom-key", "custom-header")], HeaderList.Decode(decoder, "be"));
    }

    [Fact]
    public void Decode_LiteralWithoutIndexing_LeavesTheTableEmpty()
    {
        var decoder = new HPackDecoder();
        Assert.Equal([(":path", "/sample/path")], HeaderList.Decode(decoder, "040c 2f73 616d 706c 652f 7061 7468"));
        Assert.Equal(0, decoder.TableCount);
    }

    [Fact]
    public void Decode_LiteralNeverIndexed_LeavesTheTableEmpty()
    {
        var decoder = new HPackDecoder();
        Assert.Equal([("password", "secret")], HeaderList.Decode(decoder, "1008 7061 7373 776f 7264 0673 6563 7265 74"));
        Assert.Equal(0, decoder.TableCount);
    }

    [Fact]
    public void Decode_IndexedField_GivesTheStaticEntry()
    {
        var decoder = new HPackDecoder();
        Assert.Equal([(":method", "GET")], HeaderList.Decode(decoder, "82"));
        Assert.Equal(0, decoder.TableCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decode_ThreeRequestsOnOneDecoder_UseTheEntriesTheEarlierOnesAdded(bool huffman)
    {
        // C.3 without Huffman, C.4 the same requests with Huffman.
        string[] blocks = huffman
            ? [
                "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            ]
            : [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ];
        var decoder = new HPackDecoder();

        Assert.Equal(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
            HeaderList.Decode(decoder, blocks[0]));
        Assert.Equal(57, decoder.TableSize);

        Assert.Equal(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")],
            HeaderList.Decode(decoder, blocks[1]));
        Assert.Equal(2, decoder.TableCount);
        Assert.Equal(110, decoder.TableSize);

        Assert.Equal(
            [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")],
            HeaderList.Decode(decoder, blocks[2]));
        Assert.Equal(3, decoder.TableCount);
        Assert.Equal(164, decoder.TableSize);
        // The table is newest first: custom-key (62), cache-control (63), :authority (64).
        Assert.Equal(
            [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")],
            HeaderList.Decode(decoder, "bebfc0"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decode_ThreeResponsesInA256ByteTable_EvictTheOldestEntries(bool huffman)
    {
        // C.5 without Huffman, C.6 the same responses with Huffman; the table is limited to 256 bytes.
        string[] blocks = huffman
            ? [
                """
                4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3
                """,
                "4883 640e ffc1 c0bf",
                """
                88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                9587 3160 65c0 03ed 4ee5 b106 3d50 07
                """,
            ]
            : [
                """
                4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                6c65 2e63 6f6d
                """,
                "4803 3330 37c1 c0bf",
                """
                88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                3d31
                """,
            ];
        var decoder = new HPackDecoder(maxTableSize: 256);

        Assert.Equal(
            [(":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")],
            HeaderList.Decode(decoder, blocks[0]));
        Assert.Equal(4, decoder.TableCount);
        Assert.Equal(222, decoder.TableSize);

        // :status 307 goes in, which evicts :status 302.
        Assert.Equal(
            [(":status", "307"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")],
            HeaderList.Decode(decoder, blocks[1]));
        Assert.Equal(4, decoder.TableCount);
        Assert.Equal(222, decoder.TableSize);
        Assert.Equal([(":status", "307"), ("cache-control", "private")], HeaderList.Decode(decoder, "bec1"));

        Assert.Equal(
            [
                (":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                ("location", "https://www.example.com"), ("content-encoding", "gzip"),
                ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
            ],
            HeaderList.Decode(decoder, blocks[2]));
        Assert.Equal(3, decoder.TableCount);
        Assert.Equal(215, decoder.TableSize);
        Assert.Equal(
            [
                ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"), ("content-encoding", "gzip"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ],
            HeaderList.Decode(decoder, "bebfc0"));
    }

    [Fact]
    public void Decode_SizeUpdateAtTheStart_EvictsDownToTheNewSize()
    {
        var decoder = new HPackDecoder();
        HeaderList.Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        // 0x20: size update to 0, then :method GET.
        Assert.Equal([(":method", "GET")], HeaderList.Decode(decoder, "20 82"));
        Assert.Equal(0, decoder.TableCount);
        Assert.Equal(0, decoder.TableMaxSize);
    }

    [Fact]
    public void Decode_InsertWhoseNameIsTheEntryItEvicts_KeepsTheName()
    {
        // RFC 7541 4.4: a table that holds exactly one entry; the next insert names that entry (index 62) and evicts it.
        var decoder = new HPackDecoder(maxTableSize: 60);
        HeaderList.Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        Assert.Equal([("custom-key", "other-header-x")], HeaderList.Decode(decoder, "7e 0e 6f74 6865 722d 6865 6164 6572 2d78"));
        Assert.Equal([("custom-key", "other-header-x")], HeaderList.Decode(decoder, "be"));
    }

    [Fact]
    public void Decode_ManyInsertsThroughASmallTable_KeepsEveryEntryIntact()
    {
        // Enough inserts to wrap the entry ring and compact the byte buffer many times over.
        var decoder = new HPackDecoder(maxTableSize: 200);
        for (var i = 0; i < 500; i++)
        {
            var name = $"x-n{i % 7}";
            var value = new string((char)('a' + i % 26), i % 40);
            var block = new List<byte> { 0x40, (byte)name.Length };
            block.AddRange(System.Text.Encoding.ASCII.GetBytes(name));
            block.Add((byte)value.Length);
            block.AddRange(System.Text.Encoding.ASCII.GetBytes(value));
            var sink = new HeaderList();
            decoder.Decode(block.ToArray(), sink);
            Assert.Equal([(name, value)], sink.Fields);
            Assert.True(decoder.TableSize <= 200);
            Assert.Equal([(name, value)], HeaderList.Decode(decoder, "be"));
        }
    }
}
