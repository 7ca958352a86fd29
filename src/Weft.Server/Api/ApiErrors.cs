using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Weft.Server.Catalog;

namespace Weft.Server.Api;

/// <summary>
/// Turns every failure into a status and a one-line plain-text reason, as Consul answers errors, and says
/// what is wrong for unknown paths and methods. Nothing here changes stored data: a refused write never
/// reached the writer or was rolled back there.
/// </summary>
internal sealed partial class ApiErrors(RequestDelegate next, ILogger<ApiErrors> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http);
        }
        catch (ApiException e)
        {
            await WriteAsync(http, e.StatusCode, e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteAsync(http, e.StatusCode, "Request body too large: the limit is 1 MiB");
        }
        catch (BadHttpRequestException e)
        {
            await WriteAsync(http, e.StatusCode, $"Bad request: {e.Message}");
        }
        catch (StoreUnavailableException e)
        {
            LogStoreFailure(e);
            await WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "The store could not commit the write; it was not applied");
        }
        catch (ObjectDisposedException) when (http.RequestAborted.IsCancellationRequested || !http.Response.HasStarted)
        {
            await WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "The server is shutting down");
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away during a blocking query; nobody is left to answer.
        }
        catch (Exception e)
        {
            LogUnhandled(e, http.Request.Method, http.Request.Path);
            await WriteAsync(http, StatusCodes.Status500InternalServerError, "Internal error; see the server log");
        }
    }

    /// <summary>Bodies for 404 and 405 that routing leaves empty.</summary>
    public static void UseStatusMessages(IApplicationBuilder app) =>
        app.UseStatusCodePages(async context =>
        {
            var http = context.HttpContext;
            var message = http.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => $"Invalid URL path: {http.Request.Path} is not a Weft API endpoint",
                StatusCodes.Status405MethodNotAllowed => $"method {http.Request.Method} not allowed on {http.Request.Path}",
                _ => null,
            };
            if (message is null) return;
            http.Response.ContentType = "text/plain; charset=utf-8";
            await http.Response.WriteAsync(message);
        });

    private static async Task WriteAsync(HttpContext http, int status, string message)
    {
        if (http.Response.HasStarted) return;
        http.Response.Clear();
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        await http.Response.WriteAsync(message);
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Error, Message = "Unhandled error serving {Method} {Path}")]
    private partial void LogUnhandled(Exception e, string method, string path);

    [LoggerMessage(EventId = 301, Level = LogLevel.Error, Message = "Store failure")]
    private partial void LogStoreFailure(Exception e);
}
