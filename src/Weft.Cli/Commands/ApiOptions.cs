using System.CommandLine;
using Weft.Cli.Api;

namespace Weft.Cli.Commands;

/// <summary>The <c>--http-addr</c> and <c>--token</c> options every command that talks to a server takes.</summary>
internal sealed class ApiOptions
{
    private readonly Option<string> _address = new("--http-addr")
    {
        Description = $"Server HTTP address, host:port or URL (default: ${ApiConnection.AddressVariable}, else {ApiConnection.DefaultAddress})",
    };

    private readonly Option<string> _token = new("--token")
    {
        Description = $"ACL token sent as {WeftApiClient.TokenHeader} (default: ${ApiConnection.TokenVariable})",
    };

    public static ApiOptions AddTo(Command command)
    {
        var options = new ApiOptions();
        command.Options.Add(options._address);
        command.Options.Add(options._token);
        return options;
    }

    /// <exception cref="FormatException">The address is not usable.</exception>
    public WeftApiClient Connect(ParseResult parse) =>
        new(ApiConnection.Resolve(parse.GetValue(_address), parse.GetValue(_token), Environment.GetEnvironmentVariable));
}
