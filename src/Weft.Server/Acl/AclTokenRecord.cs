namespace Weft.Server.Acl;

/// <summary>
/// A service token as stored: its SecretID only as a SHA-256 hash, so neither the database file nor a backup of it
/// lets anyone act as the token. Weft's tokens carry exactly one service identity.
/// </summary>
internal sealed record AclTokenRecord
{
    public required string AccessorId { get; init; }

    /// <summary>SHA-256 of the SecretID's UTF-8 bytes.</summary>
    public required byte[] SecretHash { get; init; }

    public required string ServiceName { get; init; }
    public string Description { get; init; } = "";
    public bool Local { get; init; }
    public required DateTimeOffset CreateTime { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}
