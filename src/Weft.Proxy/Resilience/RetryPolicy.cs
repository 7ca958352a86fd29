using Weft.Proxy.LoadBalancing;

namespace Weft.Proxy.Resilience;

/// <summary>Envoy's <c>retry_on</c> condition names, as written in <c>service-router</c> <c>RetryOn</c>.</summary>
internal static class RetryConditions
{
    public const string ServerError = "5xx";
    public const string GatewayError = "gateway-error";
    public const string Reset = "reset";
    public const string ConnectFailure = "connect-failure";
    public const string RetriableStatusCodes = "retriable-status-codes";
}

/// <summary>When a route retries, compiled from a destination. Envoy's meanings: <c>5xx</c> also covers connect failures,
/// resets and per-try timeouts; <c>gateway-error</c> covers 502/503/504 and the same failures.</summary>
internal sealed record RetryPolicy
{
    /// <summary>Without a router, a call whose connection could not be made is retried once: nothing reached the upstream.</summary>
    public static readonly RetryPolicy Default = new() { NumRetries = 1, OnConnectFailure = true };

    public static readonly RetryPolicy None = new();

    public int NumRetries { get; init; }
    public bool On5xx { get; init; }
    public bool OnGatewayError { get; init; }
    public bool OnReset { get; init; }
    public bool OnConnectFailure { get; init; }

    /// <summary>Indexed by status code - 100; empty when none.</summary>
    public bool[] StatusCodes { get; init; } = [];

    /// <summary>
    /// Retries only what never reached the upstream (connect failures): the request body was not read, so it can be
    /// sent again without buffering it first.
    /// </summary>
    public bool OnlyUnsentRequests => OnConnectFailure && !On5xx && !OnGatewayError && !OnReset && StatusCodes.Length == 0;

    public bool RetriesStatus(int status)
    {
        if (On5xx && status >= 500)
            return true;
        if (OnGatewayError && status is >= 502 and <= 504)
            return true;
        var i = status - 100;
        return (uint)i < (uint)StatusCodes.Length && StatusCodes[i];
    }

    public bool RetriesFailure(AttemptOutcome outcome) => outcome switch
    {
        AttemptOutcome.ConnectFailure => OnConnectFailure || On5xx || OnGatewayError,
        AttemptOutcome.Reset => OnReset || On5xx || OnGatewayError,
        AttemptOutcome.Timeout => OnReset || On5xx || OnGatewayError,
        _ => false,
    };

    /// <summary>Null with <paramref name="error"/> set when a condition is unknown or a status code is out of range.</summary>
    public static RetryPolicy? Compile(int? numRetries, bool retryOnConnectFailure, IReadOnlyList<int>? statusCodes, IReadOnlyList<string>? retryOn, out string? error)
    {
        error = null;
        bool on5xx = false, gateway = false, reset = false, connect = retryOnConnectFailure;
        foreach (var condition in retryOn ?? [])
        {
            switch (condition.Trim().ToLowerInvariant())
            {
                case RetryConditions.ServerError: on5xx = true; break;
                case RetryConditions.GatewayError: gateway = true; break;
                case RetryConditions.Reset: reset = true; break;
                case RetryConditions.ConnectFailure: connect = true; break;
                case RetryConditions.RetriableStatusCodes: break; // the list below is what matters
                default:
                    error = $"unknown RetryOn condition \"{condition}\" (known: 5xx, gateway-error, reset, connect-failure, retriable-status-codes)";
                    return null;
            }
        }

        var table = Array.Empty<bool>();
        if (statusCodes is { Count: > 0 })
        {
            // Consul treats a status list as enabling retriable-status-codes on its own.
            table = new bool[500];
            foreach (var code in statusCodes)
            {
                if (code is < 100 or > 599)
                {
                    error = $"RetryOnStatusCodes has {code}, which is not an HTTP status";
                    return null;
                }

                table[code - 100] = true;
            }
        }

        var anyCondition = on5xx || gateway || reset || connect || table.Length > 0;
        if (numRetries is < 0)
        {
            error = $"NumRetries is {numRetries}; it must be 0 or more";
            return null;
        }

        // Envoy's default of one retry once any condition is set.
        var retries = numRetries ?? (anyCondition ? 1 : 0);
        if (!anyCondition)
            return retries == 0 ? None : Default with { NumRetries = retries };
        return new RetryPolicy { NumRetries = retries, On5xx = on5xx, OnGatewayError = gateway, OnReset = reset, OnConnectFailure = connect, StatusCodes = table };
    }
}
