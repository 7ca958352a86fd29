using System.Collections;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;

namespace Weft.Proxy.Http2;

/// <summary>
/// The stream is its request's feature collection, as Kestrel's HTTP/2 stream is: the features it implements itself are
/// found by comparing the type asked for, not by a dictionary lookup (a request asks for about ten, each fetched again per
/// request because the revision moves with every request, so <see cref="Microsoft.AspNetCore.Http.DefaultHttpContext"/>'s
/// cache never serves a previous one). A feature someone sets during the request (the access log's counting body, YARP's
/// error) goes into a small table that is checked first and cleared at the next request; anything else comes from the
/// connection's features (the listener, the TLS client certificate).
/// </summary>
internal sealed partial class Http2ServerStream : IFeatureCollection
{
    // Set during this request, over the stream's own and the connection's (a null value hides one of them).
    private Dictionary<Type, object?>? _set;
    private int _revision;

    /// <summary>Starts the next request's features: what was set during the last one is gone.</summary>
    private void ResetFeatures()
    {
        _set?.Clear();
        _revision++;
    }

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _revision;

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            if (_set is { Count: > 0 } set && set.TryGetValue(key, out var value))
                return value;
            return Own(key) ?? _connection.ConnectionFeatures[key];
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            (_set ??= new Dictionary<Type, object?>())[key] = value;
            _revision++;
        }
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default
    {
        // Nothing set during this request (the usual case): the stream's own features (the types of OwnTypes) and the
        // connection's HTTP feature by comparing type handles, as Kestrel's generated collection does. Through the indexer,
        // each call made a Type object of the handle and cast the result back: 1.1% of the one-hop HTTP/2 profile's samples.
        if (_set is not { Count: > 0 })
        {
            if (typeof(TFeature) == typeof(IHttpRequestFeature) || typeof(TFeature) == typeof(IHttpResponseFeature)
                || typeof(TFeature) == typeof(IHttpResponseBodyFeature) || typeof(TFeature) == typeof(IHttpRequestBodyDetectionFeature)
                || typeof(TFeature) == typeof(IRequestBodyPipeFeature) || typeof(TFeature) == typeof(IHttpRequestLifetimeFeature)
                || typeof(TFeature) == typeof(IHttpResetFeature) || typeof(TFeature) == typeof(IHttpResponseTrailersFeature)
                || typeof(TFeature) == typeof(IHttpRequestTrailersFeature))
            {
                var self = this;
                return Unsafe.As<Http2ServerStream, TFeature>(ref self);
            }

            if (typeof(TFeature) == typeof(IHttpConnectionFeature))
            {
                var connection = _connection.ConnectionFeature;
                return Unsafe.As<IHttpConnectionFeature, TFeature>(ref connection);
            }
        }

        return (TFeature?)((IFeatureCollection)this)[typeof(TFeature)];
    }

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default => ((IFeatureCollection)this)[typeof(TFeature)] = instance;

    /// <summary>The features this stream implements, and the connection's HTTP feature (last).</summary>
    private static readonly Type[] OwnTypes =
    [
        typeof(IHttpRequestFeature), typeof(IHttpResponseFeature), typeof(IHttpResponseBodyFeature), typeof(IHttpRequestBodyDetectionFeature),
        typeof(IRequestBodyPipeFeature), typeof(IHttpRequestLifetimeFeature), typeof(IHttpResetFeature), typeof(IHttpResponseTrailersFeature),
        typeof(IHttpRequestTrailersFeature), typeof(IHttpConnectionFeature),
    ];

    /// <summary>One of <see cref="OwnTypes"/>' features by type, or null.</summary>
    private object? Own(Type key)
    {
        foreach (var type in OwnTypes)
        {
            if (type == key)
                return type == typeof(IHttpConnectionFeature) ? _connection.ConnectionFeature : this;
        }

        return null;
    }

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        var seen = new HashSet<Type>();
        if (_set is { } set)
        {
            foreach (var (type, value) in set)
            {
                seen.Add(type);
                if (value is not null)
                    yield return new(type, value);
            }
        }

        foreach (var type in OwnTypes)
        {
            if (seen.Add(type))
                yield return new(type, Own(type)!);
        }

        foreach (var pair in _connection.ConnectionFeatures)
        {
            if (seen.Add(pair.Key))
                yield return pair;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();
}
