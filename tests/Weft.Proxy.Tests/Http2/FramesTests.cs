using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

public sealed class FramesTests
{
    [Fact]
    public void FrameHeader_WrittenAndRead_RoundTrips()
    {
        var header = new FrameHeader(0xABCDEF, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 0x7FFF_FFFF);
        var bytes = new byte[FrameHeader.Size];
        header.Write(bytes);
        Assert.Equal(HeaderList.Hex("abcdef 01 05 7fffffff"), bytes);
        Assert.Equal(header, FrameHeader.Read(bytes));
    }

    [Fact]
    public void FrameHeader_Read_IgnoresTheReservedBit()
    {
        var header = FrameHeader.Read(HeaderList.Hex("000004 08 00 80000003"));
        Assert.Equal(new FrameHeader(4, FrameType.WindowUpdate, 0, 3), header);
    }

    [Fact]
    public void FrameHeader_Write_ClearsTheReservedBit()
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(0, FrameType.Data, 0, -1).Write(bytes);
        Assert.Equal(HeaderList.Hex("000000 00 00 7fffffff"), bytes);
    }

    [Fact]
    public void WriteSettings_ThenReadSettings_GivesTheSettingsBack()
    {
        var buffer = new byte[64];
        var length = Frames.WriteSettings(buffer, [(SettingId.EnablePush, 0u), (SettingId.InitialWindowSize, 0x7FFF_FFFFu), (SettingId.MaxHeaderListSize, 65536u)]);
        Assert.Equal(FrameHeader.Size + 18, length);
        Assert.Equal(new FrameHeader(18, FrameType.Settings, 0, 0), FrameHeader.Read(buffer));
        var read = new List<(SettingId, uint)>();
        Frames.ReadSettings(buffer.AsSpan(FrameHeader.Size, 18), (id, value) => read.Add((id, value)));
        Assert.Equal([(SettingId.EnablePush, 0u), (SettingId.InitialWindowSize, 0x7FFF_FFFFu), (SettingId.MaxHeaderListSize, 65536u)], read);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(13)]
    public void ReadSettings_LengthNotAMultipleOfSix_IsAFrameSizeError(int length)
    {
        var error = Assert.Throws<Http2ProtocolException>(() => Frames.ReadSettings(new byte[length], (_, _) => { }));
        Assert.Equal(Http2ErrorCode.FrameSizeError, error.Code);
    }

    [Fact]
    public void SmallFrames_AreTheRfcLayouts()
    {
        var buffer = new byte[32];
        Assert.Equal(9, Frames.WriteSettingsAck(buffer));
        Assert.Equal(HeaderList.Hex("000000 04 01 00000000"), buffer[..9]);

        Assert.Equal(13, Frames.WriteWindowUpdate(buffer, 5, 0x10000));
        Assert.Equal(HeaderList.Hex("000004 08 00 00000005 00010000"), buffer[..13]);

        Assert.Equal(17, Frames.WritePing(buffer, ack: true, 0x0102030405060708));
        Assert.Equal(HeaderList.Hex("000008 06 01 00000000 0102030405060708"), buffer[..17]);

        Assert.Equal(13, Frames.WriteRstStream(buffer, 7, Http2ErrorCode.Cancel));
        Assert.Equal(HeaderList.Hex("000004 03 00 00000007 00000008"), buffer[..13]);

        Assert.Equal(17, Frames.WriteGoAway(buffer, 9, Http2ErrorCode.ProtocolError));
        Assert.Equal(HeaderList.Hex("000008 07 00 00000000 00000009 00000001"), buffer[..17]);
    }
}
