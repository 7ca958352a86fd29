using System.Globalization;
using System.Text;

namespace Weft.Core.Text;

/// <summary>
/// Go's duration syntax ("10s", "1m30s", "250ms", "1.5h"), which Consul uses for every interval and
/// timeout in its API. A bare number is taken as nanoseconds, as Go's JSON decoding of time.Duration does.
/// </summary>
public static class GoDuration
{
    public static bool TryParse(string? text, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty duration";
            return false;
        }

        var s = text.Trim();
        if (s == "0")
            return true;

        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var nanos))
        {
            value = TimeSpan.FromTicks(nanos / 100);
            if (negative) value = -value;
            return true;
        }

        double totalNanos = 0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (start == i)
            {
                error = $"invalid duration \"{text}\": expected a number at position {start}";
                return false;
            }

            if (!double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                error = $"invalid duration \"{text}\": bad number";
                return false;
            }

            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            double unit = s[unitStart..i] switch
            {
                "ns" => 1,
                "us" or "µs" or "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                "" => double.NaN,
                _ => double.NegativeInfinity,
            };
            if (double.IsNaN(unit))
            {
                error = $"invalid duration \"{text}\": missing unit (use ns, us, ms, s, m or h)";
                return false;
            }

            if (double.IsNegativeInfinity(unit))
            {
                error = $"invalid duration \"{text}\": unknown unit \"{s[unitStart..i]}\"";
                return false;
            }

            totalNanos += number * unit;
        }

        if (totalNanos / 100 > TimeSpan.MaxValue.Ticks)
        {
            error = $"invalid duration \"{text}\": too large";
            return false;
        }

        value = TimeSpan.FromTicks((long)(totalNanos / 100));
        if (negative) value = -value;
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var value, out var error) ? value : throw new FormatException(error);

    /// <summary>Formats as Go does ("10s", "1m30s", "250ms"), so values round-trip through Consul tools.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero) return "0s";
        var sb = new StringBuilder();
        if (value < TimeSpan.Zero)
        {
            sb.Append('-');
            value = value.Negate();
        }

        if (value < TimeSpan.FromSeconds(1))
        {
            var ms = value.TotalMilliseconds;
            if (ms >= 1) return sb.Append(ms.ToString("0.###", CultureInfo.InvariantCulture)).Append("ms").ToString();
            var us = value.Ticks / 10.0;
            return sb.Append(us.ToString("0.#", CultureInfo.InvariantCulture)).Append("µs").ToString();
        }

        var hours = (long)value.TotalHours;
        if (hours > 0) sb.Append(hours).Append('h');
        if (hours > 0 || value.Minutes > 0) sb.Append(value.Minutes).Append('m');
        var seconds = value.Seconds + (value.Ticks % TimeSpan.TicksPerSecond) / (double)TimeSpan.TicksPerSecond;
        sb.Append(seconds.ToString("0.#########", CultureInfo.InvariantCulture)).Append('s');
        return sb.ToString();
    }
}
