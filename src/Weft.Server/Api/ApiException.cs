using Microsoft.AspNetCore.Http;

namespace Weft.Server.Api;

/// <summary>A request the server refuses, with the status and the one-line reason the client sees.</summary>
internal sealed class ApiException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    public static ApiException BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public static ApiException Forbidden(string message) => new(StatusCodes.Status403Forbidden, message);

    public static ApiException NotFound(string message) => new(StatusCodes.Status404NotFound, message);
}
