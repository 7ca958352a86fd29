namespace Weft.Proxy.Http2;

/// <summary>
/// A private SETTINGS entry our own client puts in its first SETTINGS frame, so a server sidecar can tell its own
/// client's connections from anyone else's and serve them with <see cref="Http2ServerConnection"/>. The identifier is
/// from the range no RFC assigns; RFC 9113 6.5.2 makes every other server (Kestrel included) ignore it.
/// </summary>
internal static class OwnClientMarker
{
    public const SettingId Setting = (SettingId)0xF7E1;

    public const uint Value = 1;
}
