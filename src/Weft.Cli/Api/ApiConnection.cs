namespace Weft.Cli.Api;

/// <summary>Where the server is and which token to present, resolved like Consul's CLI does.</summary>
internal sealed record ApiConnection(Uri Address, string? Token)
{
    public const string AddressVariable = "WEFT_HTTP_ADDR";
    public const string TokenVariable = "WEFT_ACL_TOKEN";
    public const string DefaultAddress = "http://127.0.0.1:8500";

    /// <summary>Flag beats environment beats default, separately for address and token.</summary>
    /// <exception cref="FormatException">The address is not a usable http(s) URL.</exception>
    public static ApiConnection Resolve(string? addressFlag, string? tokenFlag, Func<string, string?> environment)
    {
        var address = FirstSet(addressFlag, environment(AddressVariable)) ?? DefaultAddress;
        var token = FirstSet(tokenFlag, environment(TokenVariable));
        return new ApiConnection(ParseAddress(address), token);
    }

    /// <summary>Accepts <c>host:port</c> without a scheme, as CONSUL_HTTP_ADDR does.</summary>
    public static Uri ParseAddress(string address)
    {
        var text = address.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
            text = "http://" + text;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException($"\"{address}\" is not a server address; expected host:port or http(s)://host:port");
        }
        return uri;
    }

    private static string? FirstSet(params string?[] values) =>
        values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}
