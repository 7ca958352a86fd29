namespace Weft.Cli.Observe;

/// <summary>
/// What <c>weft check</c> found; also its <c>--json</c> shape. <c>Ok</c> is false when any line
/// failed; warnings are shown but do not fail the run.
/// </summary>
internal sealed record CheckReport(bool Ok, string Server, List<CheckLine> Checks);

/// <param name="Category">server, acl, ca or proxy.</param>
/// <param name="Status">ok, warn, fail, or skip (could not be checked because an earlier line failed).</param>
/// <param name="Fix">What to do about it; null on an ok line.</param>
internal sealed record CheckLine(string Category, string Name, string Status, string Detail, string? Fix = null)
{
    public const string Ok = "ok";
    public const string Warn = "warn";
    public const string Fail = "fail";
    public const string Skip = "skip";
}
