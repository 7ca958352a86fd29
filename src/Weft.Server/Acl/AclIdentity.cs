using Microsoft.AspNetCore.Http;

namespace Weft.Server.Acl;

/// <summary>
/// Who a request acts as, resolved from its token by <see cref="AclMiddleware"/> and kept in the request's features.
/// The management token may do everything; a service token only what concerns its own service (register it, fetch
/// its certificate, stream its config). With <c>--dev-open</c> every request is <see cref="Management"/>.
/// </summary>
public sealed record AclIdentity(string AccessorId, string? Service)
{
    /// <summary>The bootstrap management token's AccessorID: fixed, so it is the same after every restart.</summary>
    public const string ManagementAccessorId = "00000000-0000-0000-0000-000000000001";

    public static readonly AclIdentity Management = new(ManagementAccessorId, null);

    public bool IsManagement => Service is null;

    /// <summary>True when this identity may register, deregister, sign for or stream as <paramref name="service"/>.</summary>
    public bool CanWriteService(string service) => IsManagement || string.Equals(Service, service, StringComparison.Ordinal);

    /// <summary>The identity of this request; <see cref="Management"/> when nothing set one (open server).</summary>
    public static AclIdentity Of(HttpContext http) => http.Features.Get<AclIdentity>() ?? Management;
}
