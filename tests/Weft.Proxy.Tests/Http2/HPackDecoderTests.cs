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
        // RFC 7541 4.4. Laid out so that making room moves the surviving entry over the evicted one's name: in a
        // 200-byte table, d (59 bytes of name and value) at 0, custom-key (76) at 59, then f (60) evicts d. The last
        // insert names custom-key (index 63), evicts it, and needs the 60 bytes of f moved to the front, over byte 59.
        var decoder = new HPackDecoder(maxTableSize: 200);
        var d = new string('D', 58);
        var custom = new string('C', 66);
        var f = new string('F', 59);
        var last = new string('L', 54);
        HeaderList.Decode(decoder, Literal("d", d));
        HeaderList.Decode(decoder, Literal("custom-key", custom));
        HeaderList.Decode(decoder, Literal("f", f));
        Assert.Equal([("f", f), ("custom-key", custom)], HeaderList.Decode(decoder, "bebf"));

        var sink = new HeaderList();
        decoder.Decode([0x7f, 0x00, (byte)last.Length, .. System.Text.Encoding.ASCII.GetBytes(last)], sink);

        Assert.Equal([("custom-key", last)], sink.Fields);
        Assert.Equal(2, decoder.TableCount);
        Assert.Equal([("custom-key", last), ("f", f)], HeaderList.Decode(decoder, "bebf"));

        static string Literal(string name, string value) =>
            $"40 {name.Length:x2} {Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(name))} {value.Length:x2} {Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(value))}";
    }

    [Theory]
    [InlineData(200, 40)]
    [InlineData(1000, 300)]
    [InlineData(4096, 1500)]
    public void Decode_ManyInserts_KeepEveryEntryIntact(int tableSize, int maxValueLength)
    {
        // Enough inserts to wrap the entry ring and to move and grow the table's bytes many times over; after each,
        // every entry is read back by index against a model of what the table should hold (newest first, evicted by size).
        var decoder = new HPackDecoder(maxTableSize: tableSize);
        var model = new List<(string Name, string Value)>();
        var random = new Random(tableSize);
        for (var i = 0; i < 500; i++)
        {
            var name = $"x-n{i % 7}";
            var value = new string((char)('a' + i % 26), random.Next(maxValueLength));
            var block = new byte[16 + name.Length + value.Length];
            var length = HPackEncoder.WriteInteger(0, 6, 0x40, block);
            length += HPackEncoder.WriteInteger(name.Length, 7, 0, block.AsSpan(length));
            length += System.Text.Encoding.ASCII.GetBytes(name, block.AsSpan(length));
            length += HPackEncoder.WriteInteger(value.Length, 7, 0, block.AsSpan(length));
            length += System.Text.Encoding.ASCII.GetBytes(value, block.AsSpan(length));
            var sink = new HeaderList();
            decoder.Decode(block.AsSpan(0, length), sink);
            Assert.Equal([(name, value)], sink.Fields);

            model.Insert(0, (name, value));
            while (model.Sum(e => e.Name.Length + e.Value.Length + 32) > tableSize)
                model.RemoveAt(model.Count - 1);
            Assert.Equal(model.Count, decoder.TableCount);
            var indexes = new byte[6 * model.Count];
            var indexesLength = 0;
            for (var n = 0; n < model.Count; n++)
                indexesLength += HPackEncoder.WriteInteger(62 + n, 7, 0x80, indexes.AsSpan(indexesLength));
            var all = new HeaderList();
            decoder.Decode(indexes.AsSpan(0, indexesLength), all);
            Assert.Equal(model, all.Fields);
        }
    }
}
