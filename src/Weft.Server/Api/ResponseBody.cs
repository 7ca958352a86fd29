using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace Weft.Server.Api;

/// <summary>
/// A serialized answer kept as a chain of arrays of at most <see cref="ChunkSize"/> bytes, so that no answer, however
/// long the listing, lands on the large object heap. A listing of 10,000 checks is about 4 MB: serialized into one
/// array (and grown by doubling through the shared array pool on the way), every such answer left megabytes of
/// large-object garbage and pooled arrays that the process kept committed long after it was sent.
/// Written once by the serializer, then only read, by as many responses as share it.
/// </summary>
internal sealed class ResponseBody : IBufferWriter<byte>, IResult
{
    /// <summary>Well under the large-object threshold (85,000 bytes).</summary>
    public const int ChunkSize = 32 * 1024;

    private const string ContentType = "application/json; charset=utf-8";

    private readonly List<ReadOnlyMemory<byte>> _chunks = [];
    private byte[] _current = [];
    private int _used;
    private bool _completed;

    public long Length { get; private set; }

    /// <summary>The answer, in order, as written.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Chunks => _chunks;

    public void Advance(int count)
    {
        if (_completed) throw new InvalidOperationException("The body is complete.");
        if ((uint)count > (uint)(_current.Length - _used)) throw new ArgumentOutOfRangeException(nameof(count));
        _used += count;
        Length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _current.AsMemory(_used);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _current.AsSpan(_used);
    }

    private void Reserve(int sizeHint)
    {
        if (_completed) throw new InvalidOperationException("The body is complete.");
        var needed = Math.Max(sizeHint, 1);
        if (_current.Length - _used >= needed) return;
        Seal();
        // A single value longer than a chunk (a huge string) gets an array of its own size; nothing else does.
        _current = new byte[Math.Max(ChunkSize, needed)];
        _used = 0;
    }

    /// <summary>Ends writing. The last chunk is copied to its exact length, so a small answer keeps only its own bytes.</summary>
    public ResponseBody Complete()
    {
        if (!_completed && _used > 0)
        {
            _chunks.Add(_used == _current.Length ? _current : _current.AsSpan(0, _used).ToArray());
            _used = 0;
        }

        _current = [];
        _completed = true;
        return this;
    }

    /// <summary>Keeps what the full chunk holds; the serializer asks for a few KB at a time, so at most that is left unused.</summary>
    private void Seal()
    {
        if (_used > 0) _chunks.Add(_current.AsMemory(0, _used));
        _used = 0;
    }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        if (!_completed) throw new InvalidOperationException("The body is not complete.");
        var response = httpContext.Response;
        response.ContentType = ContentType;
        response.ContentLength = Length;
        foreach (var chunk in _chunks)
        {
            var flushed = await response.BodyWriter.WriteAsync(chunk, httpContext.RequestAborted);
            if (flushed.IsCanceled || flushed.IsCompleted) return;
        }
    }
}
