using Weft.Core.Identity;
using Weft.Core.Text;

namespace Weft.Server.Ca;

/// <summary>Checks of the CA's command-line settings, shared by <c>weft server</c> and the server itself.</summary>
internal static class CaSettings
{
    /// <summary>Short enough for tests to watch leaves expire; shorter would renew faster than clocks agree.</summary>
    public static readonly TimeSpan MinLeafTtl = TimeSpan.FromSeconds(10);

    public static bool TryTrustDomain(string? text, out string domain, out string error)
    {
        domain = (text ?? "").Trim().ToLowerInvariant();
        error = "";
        if (domain.Length == 0 || domain.Length > 255 || !domain.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '-' or '_')
            || !SpiffeId.TryParse($"spiffe://{domain}/ns/default/svc/x", out _))
        {
            error = $"\"{text}\" is not a trust domain: use letters, digits, '.', '-' and '_' (e.g. weft.local)";
            return false;
        }

        return true;
    }

    public static bool TryLeafTtl(string? text, out TimeSpan ttl, out string error)
    {
        if (!GoDuration.TryParse(text, out ttl, out error))
        {
            error = $"\"{text}\" is not a duration: {error}";
            return false;
        }

        if (ttl < MinLeafTtl)
        {
            error = $"{text} is shorter than the minimum {GoDuration.Format(MinLeafTtl)}";
            return false;
        }

        return true;
    }
}
