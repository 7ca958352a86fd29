using System.Buffers;
using System.Text;
using Weft.Core.Catalog;

namespace Weft.Core.Health;

/// <summary>
/// Consul's HTTP check: 2xx is passing, 429 is warning, anything else or no answer is critical; the output
/// names the request, the status line and the start of the body.
/// </summary>
internal sealed class HttpProbe : IHealthProbe
{
    public const string UserAgent = "Consul Health Check";
    public const string Accept = "text/plain, text/*, */*";

    private readonly CheckDefinition _definition;
    private readonly HttpClient _client;
    private readonly TimeProvider _timeProvider;
    private readonly string _method;

    public HttpProbe(CheckDefinition definition, HttpClient client, TimeProvider timeProvider)
    {
        _definition = definition;
        _client = client;
        _timeProvider = timeProvider;
        _method = definition.Method.Length > 0 ? definition.Method.ToUpperInvariant() : "GET";
    }

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var prefix = $"HTTP {_method} {_definition.Http}";
        using var timeout = new ProbeTimeout(_definition.EffectiveTimeout, _timeProvider, cancellationToken);
        HttpRequestMessage request;
        try
        {
            request = CreateRequest();
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException or InvalidOperationException)
        {
            return ProbeResult.Critical($"{prefix}: {e.Message}");
        }

        try
        {
            using (request)
            {
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token)
                    .ConfigureAwait(false);
                var body = await ReadBodyAsync(response, timeout.Token).ConfigureAwait(false);
                var code = (int)response.StatusCode;
                var reason = string.IsNullOrEmpty(response.ReasonPhrase) ? ReasonPhrase(code) : response.ReasonPhrase;
                var output = $"{prefix}: {code} {reason} Output: {body}";
                return code switch
                {
                    >= 200 and <= 299 => ProbeResult.Passing(output),
                    429 => ProbeResult.Warning(output),
                    _ => ProbeResult.Critical(output),
                };
            }
        }
        catch (OperationCanceledException)
        {
            timeout.ThrowIfCallerCancelled();
            return ProbeResult.Critical($"{prefix}: timed out after {timeout.DurationText}");
        }
        // NotSupportedException: a scheme other than http(s), which HttpClient refuses only when sending.
        catch (Exception e) when (e is HttpRequestException or IOException or NotSupportedException)
        {
            return ProbeResult.Critical($"{prefix}: {Describe(e)}");
        }
    }

    private HttpRequestMessage CreateRequest()
    {
        var request = new HttpRequestMessage(new HttpMethod(_method), new Uri(_definition.Http, UriKind.Absolute));
        if (_definition.Body.Length > 0)
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(_definition.Body));

        foreach (var (name, values) in _definition.Header)
        {
            if (request.Headers.TryAddWithoutValidation(name, values.AsEnumerable()))
                continue;
            // Content-Type and friends belong to the body in .NET's model.
            request.Content ??= new ByteArrayContent([]);
            request.Content.Headers.TryAddWithoutValidation(name, values.AsEnumerable());
        }

        if (!request.Headers.Contains("User-Agent"))
            request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        if (!request.Headers.Contains("Accept"))
            request.Headers.TryAddWithoutValidation("Accept", Accept);

        // .NET takes the TLS server name (SNI and certificate name check) from the Host header, so
        // TLSServerName is honoured by sending it as Host. Unlike Consul this also changes the Host the
        // service sees, unless the check sets a Host header itself, which then wins for both.
        if (_definition.TlsServerName.Length > 0 && request.Headers.Host is null)
            request.Headers.Host = _definition.TlsServerName;

        // Consul disables keep-alive for checks: a pooled connection the service has closed while idle
        // would fail the next check for no fault of the service. Every probe opens a fresh connection.
        request.Headers.ConnectionClose = true;
        return request;
    }

    /// <summary>Reads at most the output cap and stops; the rest of a large body is never downloaded.</summary>
    private static async Task<string> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var output = new BoundedOutput();
        var buffer = ArrayPool<byte>.Shared.Rent(output.Capacity);
        try
        {
            using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (!output.IsFull)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, output.Capacity), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                output.Write(buffer.AsSpan(0, read));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return output.ToText(reportTruncation: false);
    }

    private static string Describe(Exception e) =>
        e.InnerException is { } inner && !string.IsNullOrEmpty(inner.Message) && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
            ? $"{e.Message} {inner.Message}"
            : e.Message;

    // HTTP/2 responses carry no reason phrase; Consul's output names one, so derive it ("NotFound" → "Not Found").
    private static string ReasonPhrase(int code) =>
        Enum.IsDefined(typeof(System.Net.HttpStatusCode), code)
            ? System.Text.RegularExpressions.Regex.Replace(((System.Net.HttpStatusCode)code).ToString(), "(?<=[a-z])(?=[A-Z])", " ")
            : "";
}
