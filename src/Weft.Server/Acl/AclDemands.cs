using Weft.Server.Api;

namespace Weft.Server.Acl;

/// <summary>
/// The checks endpoints make before they write, with Consul's refusal: 403 and a message starting
/// "Permission denied" that names the token's AccessorID and the permission it lacks.
/// </summary>
internal static class AclDemands
{
    /// <summary>Write on <paramref name="service"/>: management, or a service token for exactly that service.</summary>
    public static void ServiceWrite(this AclIdentity identity, string service)
    {
        if (!identity.CanWriteService(service))
            throw Denied(identity, $"\"service:write\" on \"{service}\"");
    }

    /// <summary>What only the management token may do: <paramref name="permission"/> is Consul's name for it (acl:write, node:write, ...).</summary>
    public static void Management(this AclIdentity identity, string permission)
    {
        if (!identity.IsManagement)
            throw Denied(identity, $"\"{permission}\"");
    }

    private static ApiException Denied(AclIdentity identity, string permission) =>
        ApiException.Forbidden($"Permission denied: token with AccessorID '{identity.AccessorId}' lacks permission {permission}");
}
