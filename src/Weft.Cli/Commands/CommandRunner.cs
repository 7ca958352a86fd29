using System.CommandLine;
using Weft.Cli.Api;

namespace Weft.Cli.Commands;

/// <summary>Runs a command body and turns each kind of failure into its message and exit code.</summary>
internal static class CommandRunner
{
    public static async Task<int> RunAsync(ParseResult parse, ApiOptions api, Func<WeftApiClient, CliOutput, Task<int>> body)
    {
        var output = CliOutput.From(parse);
        WeftApiClient client;
        try
        {
            client = api.Connect(parse);
        }
        catch (FormatException e)
        {
            output.Fail(e.Message);
            return ExitCodes.BadInput;
        }

        using (client)
        {
            try
            {
                return await body(client, output);
            }
            catch (ServerUnreachableException e)
            {
                output.Fail($"cannot reach the server at {Display(e.Address)}: {e.Reason}. Is weft server running? Set {ApiConnection.AddressVariable} to its address.");
                return ExitCodes.Unreachable;
            }
            catch (ServerRefusedException e) when (e.IsTokenRefused)
            {
                output.Fail($"the server refused the token ({e.ServerMessage}). Set {ApiConnection.TokenVariable} or pass --token.");
                return ExitCodes.TokenRefused;
            }
            catch (ServerRefusedException e)
            {
                output.Fail($"the server answered {e.StatusCode} {e.ReasonPhrase}: {e.ServerMessage}");
                return ExitCodes.ServerRefused;
            }
            catch (UnexpectedResponseException e)
            {
                output.Fail(e.Message);
                return ExitCodes.ServerRefused;
            }
        }
    }

    /// <summary>The address as the user would type it into WEFT_HTTP_ADDR: no trailing slash.</summary>
    private static string Display(Uri address) => address.GetLeftPart(UriPartial.Path).TrimEnd('/');
}
