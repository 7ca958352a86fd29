namespace Weft.Cli.Commands;

/// <summary>Process exit codes; the scheme and its reasons are at the top of Api/WeftApiClient.cs.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int ServerRefused = 1;
    public const int BadInput = 2;
    public const int Unreachable = 3;
    public const int TokenRefused = 4;
    public const int NotFound = 5;
    public const int CheckFailed = 6;
}
