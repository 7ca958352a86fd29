namespace Weft.Server.Mesh;

/// <summary>What intentions decide for a call none matches, for the server's lifetime; sent to every sidecar in full snapshots.</summary>
internal sealed record IntentionDefaults(bool Allow);
