using System.Globalization;

namespace Weft.Proxy.Observability;

/// <summary>Sampling ratios as flags give them: a number from 0 to 1.</summary>
internal static class Ratio
{
    public static bool TryParse(string? text, out double ratio, out string error)
    {
        error = "";
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out ratio) && ratio is >= 0 and <= 1)
            return true;
        error = $"\"{text}\" is not a ratio from 0 to 1 (e.g. 0.01 for 1%)";
        return false;
    }
}
