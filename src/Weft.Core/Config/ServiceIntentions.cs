using System.Collections.Frozen;
using System.Text.Json.Serialization;

namespace Weft.Core.Config;

/// <summary>
/// <c>service-intentions</c>: who may call the service named <c>Name</c> (or every service, <c>*</c>), as Consul's entry
/// of that kind. Each source is either L4 (<c>Action</c>) or L7 (<c>Permissions</c>, first match decides).
/// </summary>
public sealed record ServiceIntentionsEntry : ConfigEntry
{
    public List<SourceIntention>? Sources { get; init; }

    /// <summary>
    /// The entry as Consul stores it: each source's <see cref="SourceIntention.Precedence"/> computed (what a writer sent
    /// there is ignored), <c>Type</c> defaulted to <c>consul</c>, sources sorted by precedence, highest first. Validation messages name the source as well as its index, since
    /// the index is of this order.
    /// </summary>
    public ServiceIntentionsEntry Normalized()
    {
        if (Sources is null) return this;
        var sources = Sources
            .Select(s => s with { Precedence = IntentionPrecedence.Of(s.Name, Name), Type = string.IsNullOrEmpty(s.Type) ? IntentionSourceTypes.Consul : s.Type })
            .OrderByDescending(s => s.Precedence) // stable: sources of equal precedence keep the writer's order
            .ToList();
        return this with { Sources = sources };
    }
}

public sealed record SourceIntention
{
    /// <summary>The calling service's name, or <c>*</c> for any caller (including one of unknown identity).</summary>
    public required string Name { get; init; }

    /// <summary><c>allow</c> or <c>deny</c>; an L4 intention. Exclusive with <see cref="Permissions"/>.</summary>
    public string? Action { get; init; }

    /// <summary>L7 rules, tried in order; the first that matches the request decides. Exclusive with <see cref="Action"/>.</summary>
    public List<IntentionPermission>? Permissions { get; init; }

    /// <summary>Read-only: computed from the source and destination names (<see cref="IntentionPrecedence"/>).</summary>
    public int Precedence { get; init; }

    /// <summary>Always <c>consul</c> (a service name), as Consul.</summary>
    public string? Type { get; init; }

    public string? Description { get; init; }

    /// <summary>True for an L7 intention: it needs the request to decide.</summary>
    [JsonIgnore]
    public bool IsL7 => Permissions is { Count: > 0 };
}

public sealed record IntentionPermission
{
    /// <summary><c>allow</c> or <c>deny</c>.</summary>
    public string? Action { get; init; }

    [JsonPropertyName("HTTP")] public IntentionHttpPermission? Http { get; init; }
}

/// <summary>What a request must look like for the permission to apply: every condition set must hold.</summary>
public sealed record IntentionHttpPermission
{
    public string? PathExact { get; init; }
    public string? PathPrefix { get; init; }
    public string? PathRegex { get; init; }
    public List<string>? Methods { get; init; }
    public List<HeaderMatch>? Header { get; init; }
}

public static class IntentionActions
{
    public const string Allow = "allow";
    public const string Deny = "deny";
}

public static class IntentionSourceTypes
{
    public const string Consul = "consul";
}

/// <summary>
/// Consul's precedence of an intention (without namespaces): exact source and destination 9, exact destination with
/// any source 8, any destination with an exact source 6, any to any 5. The highest that matches a call decides it.
/// </summary>
public static class IntentionPrecedence
{
    public const string Wildcard = "*";

    public static int Of(string source, string destination) => (source == Wildcard, destination == Wildcard) switch
    {
        (false, false) => 9,
        (true, false) => 8,
        (false, true) => 6,
        (true, true) => 5,
    };
}

/// <summary>
/// The intentions that apply to one destination, resolved once by precedence so a call costs one dictionary lookup:
/// a known caller gets its exact intention, else the best <c>*</c> one; a caller of unknown identity only the <c>*</c>
/// one. <typeparamref name="T"/> is what the user of the table compiled each intention into.
/// </summary>
public sealed class IntentionLookup<T> where T : class
{
    private readonly FrozenDictionary<string, T> _bySource;
    private readonly T? _anySource;

    private IntentionLookup(FrozenDictionary<string, T> bySource, T? anySource)
    {
        _bySource = bySource;
        _anySource = anySource;
    }

    /// <param name="exact">The destination's own entry (precedence 9 and 8).</param>
    /// <param name="wildcard">The <c>*</c> destination's entry (precedence 6 and 5).</param>
    /// <param name="compile">Turns one source intention into what <see cref="Match"/> returns.</param>
    public static IntentionLookup<T> Build(ServiceIntentionsEntry? exact, ServiceIntentionsEntry? wildcard, Func<SourceIntention, T> compile)
    {
        var bySource = new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase);
        var exactAny = exact?.Sources?.FirstOrDefault(s => s.Name == IntentionPrecedence.Wildcard);
        // An exact destination with a * source (8) outranks every source named only under the * destination (6).
        if (exactAny is null)
        {
            foreach (var source in wildcard?.Sources ?? [])
            {
                if (source.Name != IntentionPrecedence.Wildcard)
                    bySource[source.Name] = compile(source);
            }
        }

        foreach (var source in exact?.Sources ?? [])
        {
            if (source.Name != IntentionPrecedence.Wildcard)
                bySource[source.Name] = compile(source);
        }

        var any = exactAny ?? wildcard?.Sources?.FirstOrDefault(s => s.Name == IntentionPrecedence.Wildcard);
        return new IntentionLookup<T>(bySource.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), any is null ? null : compile(any));
    }

    /// <summary>The intention that decides a call from <paramref name="source"/> (null: unknown identity); null when none does.</summary>
    public T? Match(string? source) =>
        source is not null && _bySource.TryGetValue(source, out var intention) ? intention : _anySource;
}

/// <summary>The L4 view of intentions, as Consul's <c>/v1/connect/intentions/check</c>: no request, only who calls whom.</summary>
public static class IntentionDecision
{
    /// <summary>
    /// Allowed when the deciding intention says allow; an L7 intention (permissions) counts as deny here, as Consul's,
    /// since without a request its permissions cannot be evaluated; no intention at all falls to the default.
    /// </summary>
    public static bool AllowsConnection(SourceIntention? intention, bool defaultAllow) => intention switch
    {
        null => defaultAllow,
        { IsL7: true } => false,
        _ => intention.Action == IntentionActions.Allow,
    };

    /// <summary>The deciding intention for one call, looked up in the entries of a catalog or snapshot.</summary>
    public static SourceIntention? Find(string? source, string destination, Func<string, ServiceIntentionsEntry?> entryOf) =>
        IntentionLookup<SourceIntention>.Build(entryOf(destination), destination == IntentionPrecedence.Wildcard ? null : entryOf(IntentionPrecedence.Wildcard), s => s)
            .Match(source);
}
